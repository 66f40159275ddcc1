"""The RDAP cache shared through Redis: a prefetch in the mail filter serves the gateway.

A local RDAP server on loopback, the local Redis (a key prefix per test) or a private
redis-server that the test stops; the mail side and the gateway side each build their own
clients from settings, as two processes would.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from linkguard.adapters.facts import NetworkFacts
from linkguard.adapters.rdap import (
    SHARED_KEY_PREFIX,
    RdapClient,
    _Answer,
    _answer_from_json,
    _answer_json,
)
from linkguard.adapters.redis_stores import TieredCache
from linkguard.bootstrap import build_facts, build_mail
from linkguard.core.model import AgeState, DomainAge, Facts
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.ports import Health
from linkguard.settings import Settings
from tests.adapters.conftest import REDIS_URL, RedisServer, free_port
from tests.adapters.local_http import LocalServer, Reply, serving
from tests.adapters.test_rdap import NOW, bootstrap_for, domain_object
from tests.mail.mailkit import KEY_SPEC, FilterThread, Sink

MAIL = (b"From: a@outside.test\r\nTo: b@ours.test\r\nSubject: s\r\n\r\n"
        b"see https://www.young-shop.com/deal and https://young-shop.com/more\r\n")


@pytest.fixture
def rdap_server() -> Iterator[LocalServer]:
    with serving() as server:
        server.route("/rdap/domain/young-shop.com", Reply(
            200, domain_object("young-shop.com", "2026-11-25T00:00:00Z")))
        server.route("/rdap/domain/nobody.com", Reply(404, b'{"errorCode": 404}'))
        yield server


def settings_for(server: LocalServer, tmp_path: Path, redis_url: str | None,
                 prefix: str = "linkguard:") -> Settings:
    bootstrap = tmp_path / "dns.json"
    bootstrap.write_text(json.dumps({"services": [[["com"], [f"{server.base}/rdap/"]]]}),
                         encoding="utf-8")
    return Settings(link_keys=KEY_SPEC, base_url="https://lg.test", data_dir=tmp_path,
                    rdap_bootstrap_file=bootstrap, redis_url=redis_url, redis_prefix=prefix,
                    resolve_redirects=False)


def url(text: str) -> ParsedUrl:
    parsed = parse_url(text)
    assert isinstance(parsed, ParsedUrl)
    return parsed


def click(facts: NetworkFacts, link: str, budget_s: float = 0.8) -> Facts:
    async def once() -> Facts:
        try:
            return await facts.gather(url(link), budget_s=budget_s)
        finally:
            await facts.aclose()

    return asyncio.run(once())


def lookup(client: RdapClient, domain: str) -> DomainAge:
    async def once() -> DomainAge:
        try:
            return await client.domain_age(domain, NOW)
        finally:
            await client.aclose()

    return asyncio.run(once())


def asked(server: LocalServer) -> list[str]:
    return [seen.path for seen in server.seen]


# --- the shared entry -----------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    _Answer(registered=datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
    _Answer(registered=datetime.fromisoformat("1997-09-15T04:00:00.000+02:00")),
    _Answer(missing=True),
    _Answer(error="rdap.example asked us to slow down"),
])
def test_entries_round_trip_as_json(answer: _Answer) -> None:
    text = json.dumps(_answer_json(answer, 1_800_000_000.5))
    assert _answer_from_json(json.loads(text)) == (answer, 1_800_000_000.5)
    if answer.registered is not None:
        assert json.loads(text)["registered"] == answer.registered.isoformat()


@pytest.mark.parametrize("data", [
    None, [], "x", {}, {"registered": None, "missing": False, "error": ""},
    {"registered": 5, "missing": False, "error": "", "until": 1.0},
    {"registered": "yesterday", "missing": False, "error": "", "until": 1.0},
    {"registered": None, "missing": "no", "error": "", "until": 1.0},
    {"registered": None, "missing": False, "error": "", "until": True},
    {"registered": None, "missing": False, "error": "", "until": float("nan")},
    {"registered": "2020-01-01T00:00:00Z", "missing": True, "error": "", "until": 1.0},
])
def test_malformed_entries_are_misses(data: object) -> None:
    assert _answer_from_json(data) is None


# --- prefetch in the mail filter, click at the gateway ------------------------------------


def test_prefetch_at_rewrite_serves_the_gateway_through_redis(
        rdap_server: LocalServer, tmp_path: Path, redis_session_client: redis.Redis,
        redis_prefix: str) -> None:
    settings = settings_for(rdap_server, tmp_path, REDIS_URL, redis_prefix)
    mail = build_mail(settings)
    assert mail.prefetch is not None
    key = f"{redis_prefix}cache:rdap:{SHARED_KEY_PREFIX}young-shop.com"
    try:
        with Sink() as sink, FilterThread(sink.port, policy=mail.policy, make=mail.contexts,
                                          prefetch=mail.prefetch) as flt:
            with smtplib.SMTP("127.0.0.1", flt.port, timeout=30) as client:
                client.sendmail("a@outside.test", ["b@ours.test"], MAIL)
            sink.wait(1)
            deadline = time.monotonic() + 10
            while redis_session_client.get(key) is None:
                assert time.monotonic() < deadline, "the prefetch never reached Redis"
                time.sleep(0.02)
    finally:
        if mail.close is not None:
            mail.close()
    assert asked(rdap_server) == ["/rdap/domain/young-shop.com"]  # two links, one domain
    ttl_ms = redis_session_client.pttl(key)
    assert 6 * 86_400_000 < ttl_ms <= 7 * 86_400_000  # a registration date is kept long

    gateway = build_facts(settings)  # another process: its own Redis client and caches
    gateway._clock = lambda: NOW
    assert gateway.rdap is not None
    assert gateway.rdap.cached("young-shop.com", NOW) is None  # nothing in its process yet
    found = click(gateway, "https://young-shop.com/deal")
    assert found.domain_age.state is AgeState.KNOWN
    assert found.domain_age.age_days == 2
    assert found.domain_age.registered == datetime(2026, 11, 25, tzinfo=UTC)
    assert asked(rdap_server) == ["/rdap/domain/young-shop.com"]  # exactly one request
    assert (gateway.rdap.requests, gateway.rdap.shared_hits) == (0, 1)


def test_not_registered_is_shared_briefly(rdap_server: LocalServer,
                                          redis_session_client: redis.Redis,
                                          redis_prefix: str) -> None:
    def client() -> RdapClient:
        return RdapClient(bootstrap_for(rdap_server), shared=TieredCache(
            redis_session_client, namespace="rdap", prefix=redis_prefix))

    assert lookup(client(), "nobody.com").registered_missing
    ttl_ms = redis_session_client.pttl(f"{redis_prefix}cache:rdap:{SHARED_KEY_PREFIX}nobody.com")
    assert 0 < ttl_ms <= 600_000
    other = client()
    assert lookup(other, "nobody.com").registered_missing
    assert (other.requests, other.shared_hits, len(rdap_server.seen)) == (0, 1, 1)


def test_an_unreadable_shared_entry_is_a_miss_and_replaced(
        rdap_server: LocalServer, redis_session_client: redis.Redis, redis_prefix: str) -> None:
    key = f"{redis_prefix}cache:rdap:{SHARED_KEY_PREFIX}young-shop.com"
    redis_session_client.set(key, b'{"registered": "not a date"', px=60_000)
    client = RdapClient(bootstrap_for(rdap_server), shared=TieredCache(
        redis_session_client, namespace="rdap", prefix=redis_prefix))
    assert lookup(client, "young-shop.com").age_days == 2
    assert client.requests == 1
    entry = redis_session_client.get(key)
    assert entry is not None
    assert json.loads(entry)["registered"] == "2026-11-25T00:00:00+00:00"


# --- Redis down -------------------------------------------------------------------------------


def test_redis_down_each_process_falls_back_to_its_own_cache(
        rdap_server: LocalServer, redis_server: RedisServer) -> None:
    def process() -> tuple[RdapClient, TieredCache]:
        cache = TieredCache(redis.Redis.from_url(redis_server.url, socket_timeout=0.5,
                                                 socket_connect_timeout=0.5),
                            namespace="rdap", retry_s=60)
        return RdapClient(bootstrap_for(rdap_server), shared=cache), cache

    (mail, mail_cache), (gateway, gateway_cache) = process(), process()
    redis_server.stop()
    assert lookup(mail, "young-shop.com").age_days == 2
    assert lookup(mail, "young-shop.com").age_days == 2  # its own cache: no second request
    assert mail.requests == 1
    assert lookup(gateway, "young-shop.com").age_days == 2  # could not share: asks itself
    assert gateway.requests == 1
    assert lookup(gateway, "young-shop.com").age_days == 2
    assert len(rdap_server.seen) == 2
    for cache in (mail_cache, gateway_cache):
        health = cache.health()
        assert isinstance(health, Health)
        assert health.degraded


def test_no_redis_at_all_through_settings(rdap_server: LocalServer, tmp_path: Path) -> None:
    # A Redis URL nothing answers on: both sides build, look up, and never raise.
    settings = settings_for(rdap_server, tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    gateway = build_facts(settings)
    gateway._clock = lambda: NOW
    assert click(gateway, "https://young-shop.com/").domain_age.age_days == 2
    assert click(gateway, "https://young-shop.com/").domain_age.age_days == 2
    assert len(rdap_server.seen) == 1


class Broken:
    """A cache that fails every call, as a misbehaving implementation might."""

    def get(self, key: str) -> bytes | None:
        raise OSError(f"cannot read {key}")

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        raise OSError(f"cannot write {key} ({len(value)} bytes, {ttl_s} s)")

    def delete(self, key: str) -> None:
        raise OSError(f"cannot delete {key}")

    def health(self) -> Health:
        return Health("cache:rdap", ok=False)


def test_cache_errors_never_escape(rdap_server: LocalServer) -> None:
    client = RdapClient(bootstrap_for(rdap_server), shared=Broken())
    assert lookup(client, "young-shop.com").age_days == 2
    assert lookup(client, "young-shop.com").age_days == 2
    assert client.requests == 1


def test_without_redis_the_cache_stays_in_process(rdap_server: LocalServer,
                                                  tmp_path: Path) -> None:
    settings = settings_for(rdap_server, tmp_path, None)
    gateway = build_facts(settings)
    assert gateway.rdap is not None
    assert gateway.rdap.shared is None


def test_prefetch_setting(tmp_path: Path, rdap_server: LocalServer) -> None:
    settings = settings_for(rdap_server, tmp_path, None)
    assert build_mail(settings).prefetch is not None
    for off in ({"prefetch_at_rewrite": False}, {"facts_enabled": False},
                {"rdap_enabled": False}):
        assert build_mail(settings.model_copy(update=off)).prefetch is None
