"""/metrics and /readyz answer the network inside (probes, scraper), not the people clicking."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from tests.web.conftest import BASE, GwFactory, make_settings

pytestmark = pytest.mark.anyio


def client_from(gw_app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=gw_app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.mark.parametrize(("address", "allowed"), [
    ("127.0.0.1", True), ("10.2.3.4", True), ("172.20.0.9", True), ("192.168.1.1", True),
    ("fd00::5", True), ("203.0.113.7", False), ("2001:db8::1", False), ("8.8.8.8", False),
])
async def test_default_networks(gw_factory: GwFactory, address: str, allowed: bool) -> None:
    gw = await gw_factory()
    async with client_from(gw.app, address) as client:
        for path in ("/metrics", "/readyz"):
            response = await client.get(path)
            assert (response.status_code != 404) is allowed, (path, response.status_code)
            if not allowed:
                assert "linkguard_" not in response.text
                assert "checks" not in response.text
        assert (await client.get("/healthz")).status_code == 200  # liveness says nothing


async def test_configured_networks_and_everyone(gw_factory: GwFactory) -> None:
    gw = await gw_factory(ops_allow="198.51.100.0/24")
    async with client_from(gw.app, "198.51.100.20") as inside, \
            client_from(gw.app, "127.0.0.1") as loopback:
        assert (await inside.get("/metrics")).status_code == 200
        assert (await loopback.get("/metrics")).status_code == 404  # only what was listed
    everyone = await gw_factory(ops_allow="*")
    async with client_from(everyone.app, "203.0.113.7") as anyone:
        assert (await anyone.get("/metrics")).status_code == 200


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-a-network", "10.0.0.1,,300.1.1.1"])
def test_bad_networks_are_refused_at_start(tmp_path: object, value: str) -> None:
    with pytest.raises(ValidationError, match="ops_allow"):
        make_settings(tmp_path, ops_allow=value)  # type: ignore[arg-type]
