"""A list change made through the admin API on one app instance takes effect on another that
shares the database, within the poll bound, on SQLite (one file) and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest

from tests.adapters.conftest import PG_SERVER, create_pg_database, drop_pg_database, pg_url_for
from tests.web.conftest import Gw, GwFactory

pytestmark = pytest.mark.anyio

WRITER_SECRET = "w" * 32
KEYS = f"ci:{'v' * 32},writer:{WRITER_SECRET}:admin:read+admin:write"
WRITER = {"authorization": f"Bearer {WRITER_SECRET}"}
VERDICT = {"authorization": "Bearer " + "v" * 32}
POLL_S = 0.2
URL = "https://login.spread-test.com/account"


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = create_pg_database("linkguard_admin")
    yield pg_url_for(PG_SERVER, name)
    drop_pg_database(name)


async def verdict(gw: Gw) -> str:
    response = await gw.client.post("/v1/verdicts", json={"url": URL}, headers=VERDICT)
    assert response.status_code == 200
    result: str = response.json()["verdict"]
    return result


async def seconds_until(gw: Gw, wanted: str, bound_s: float) -> float:
    started = time.monotonic()
    while await verdict(gw) != wanted:
        assert time.monotonic() - started < bound_s, f"not {wanted} within {bound_s} s"
        await anyio.sleep(0.02)
    return time.monotonic() - started


async def check_propagation(one: Gw, two: Gw) -> None:
    assert await verdict(two) != "block"
    added = await one.client.post("/v1/admin/lists", headers=WRITER, json={
        "action": "block", "kind": "domain", "value": "spread-test.com", "reason": "case 9"})
    assert added.status_code == 201
    # Every instance, the writer's own included, reloads at its next poll: within the poll
    # interval (plus a margin for a busy test machine).
    await seconds_until(one, "block", POLL_S * 10)
    await seconds_until(two, "block", POLL_S * 10)
    removed = await two.client.delete(f"/v1/admin/lists/{added.json()['id']}", headers=WRITER)
    assert removed.status_code == 200
    await seconds_until(one, "allow", POLL_S * 10)


async def test_two_instances_on_one_sqlite_file(gw_factory: GwFactory) -> None:
    one = await gw_factory(api_keys=KEYS, list_poll_s=POLL_S, verdict_cache_s=0)
    two = await gw_factory(api_keys=KEYS, list_poll_s=POLL_S, verdict_cache_s=0)
    await check_propagation(one, two)


async def test_two_instances_on_postgresql(pg_url: str, gw_factory: GwFactory) -> None:
    # pg_url first: the database outlives the apps using it.
    one = await gw_factory(api_keys=KEYS, list_poll_s=POLL_S, verdict_cache_s=0,
                           database_url=pg_url)
    two = await gw_factory(api_keys=KEYS, list_poll_s=POLL_S, verdict_cache_s=0,
                           database_url=pg_url)
    await check_propagation(one, two)
