"""Readiness when the shared nonce store (Redis) does not answer: still ready, degraded."""

from __future__ import annotations

import pytest

from linkguard.ports import StoreUnavailableError
from tests.web.conftest import Gw

pytestmark = pytest.mark.anyio


async def test_a_nonce_store_down_degrades_readiness_but_keeps_the_replica(gw: Gw) -> None:
    def down() -> None:
        raise StoreUnavailableError("nonce store: Redis unavailable")

    gw.state.nonces.ping = down  # type: ignore[method-assign]
    ready = await gw.client.get("/readyz")
    # Clicks are still served; taking every replica out of the load balancer when the shared
    # Redis is down would stop them all. Confirmations fail closed on their own.
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["nonce_store"]["degraded"] is True
    assert "confirmations fail closed" in checks["nonce_store"]["detail"]
