"""``POST /v1/verdicts``: auth, validation, single and batch answers, health and metrics."""

from __future__ import annotations

from typing import Any

import pytest

from linkguard.ports import Health
from tests.web.conftest import ALLOWED, BLOCKED, CONFIRMED, WARN_TEXT, WARNED, Gw, GwFactory

pytestmark = pytest.mark.anyio

KEY = {"authorization": "Bearer " + "v" * 32}
ADMIN_ONLY = {"authorization": "Bearer " + "a" * 32}


async def post(gw: Gw, body: Any, headers: dict[str, str] | None = None) -> Any:
    return await gw.client.post("/v1/verdicts", json=body,
                                headers=KEY if headers is None else headers)


async def test_one_item(gw: Gw) -> None:
    response = await post(gw, {"url": WARNED, "display_text": WARN_TEXT,
                               "recipient": "alice@corp.test"})
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "warn"
    assert isinstance(body["score"], float)
    assert "mismatch.display_text" in [r["code"] for r in body["reasons"]]
    assert all(set(r) == {"code", "message", "evidence"} for r in body["reasons"])
    assert body["url"] == {"normalized": WARNED, "registrable_domain": "example.com",
                           "unwrapped_from": None}


async def test_batch_keeps_order(gw: Gw) -> None:
    urls = [ALLOWED, CONFIRMED, BLOCKED, "javascript:alert(1)", "http://[::1"]
    response = await post(gw, {"items": [{"url": u} for u in urls]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["verdict"] for r in results][:3] == ["allow", "confirm", "block"]
    assert results[3]["verdict"] == "block"
    assert results[4]["url"]["normalized"] is None
    assert results[4]["reasons"][0]["code"] == "url.invalid"


async def test_batch_of_100_and_not_101(gw: Gw) -> None:
    ok = await post(gw, {"items": [{"url": f"https://site{i}.example.org/"} for i in range(100)]})
    assert ok.status_code == 200
    assert len(ok.json()["results"]) == 100
    too_many = await post(gw, {"items": [{"url": "https://a.example.org/"}] * 101})
    assert too_many.status_code == 422
    assert too_many.json()["error"] == "invalid_request"


async def test_wrapped_links_are_judged_inside(gw: Gw) -> None:
    wrapped = ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil."
               "blocked-site.net%2Flogin&data=05%7C01&reserved=0")
    body = (await post(gw, {"url": wrapped})).json()
    assert body["verdict"] == "block"
    assert body["url"]["normalized"] == BLOCKED
    assert body["url"]["unwrapped_from"] == [wrapped]


@pytest.mark.parametrize(("headers", "status", "error"), [
    ({}, 401, "unauthorized"),
    ({"authorization": "Bearer wrong-key-wrong-key-wrong-key"}, 401, "unauthorized"),
    ({"authorization": "Basic " + "v" * 32}, 401, "unauthorized"),
    ({"authorization": "Bearer"}, 401, "unauthorized"),
    (ADMIN_ONLY, 403, "forbidden"),
])
async def test_auth(gw: Gw, headers: dict[str, str], status: int, error: str) -> None:
    response = await post(gw, {"url": ALLOWED}, headers)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


async def test_no_keys_configured_means_no_access(gw_factory: GwFactory) -> None:
    gw = await gw_factory(api_keys=None)
    assert (await post(gw, {"url": ALLOWED})).status_code == 401


@pytest.mark.parametrize(("body", "path"), [
    ({}, ["body"]),
    ({"url": ""}, ["body", "VerdictItem", "url"]),
    ({"url": 5}, ["body", "VerdictItem", "url"]),
    ({"url": "x" * 20_000}, ["body", "VerdictItem", "url"]),
    ({"url": ALLOWED, "color": "red"}, ["body", "VerdictItem", "color"]),
    ({"items": []}, ["body", "VerdictBatch", "items"]),
    ({"items": [{"url": ALLOWED}, {"nope": 1}]}, ["body", "VerdictBatch", "items", 1, "url"]),
    ([{"url": ALLOWED}], ["body"]),
    ("just text", ["body"]),
])
async def test_invalid_bodies_get_422_with_field_paths(gw: Gw, body: Any,
                                                       path: list[Any]) -> None:
    response = await post(gw, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_request"
    locations = [d["loc"] for d in answer["detail"]]
    assert any(loc[:len(path)] == path for loc in locations), locations


async def test_malformed_json_is_422(gw: Gw) -> None:
    response = await gw.client.post("/v1/verdicts", content=b'{"url": ',
                                    headers={**KEY, "content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_api_rate_limit(gw_factory: GwFactory) -> None:
    gw = await gw_factory(rate_limit_api="2/60")
    codes = [(await post(gw, {"url": ALLOWED})).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = await post(gw, {"url": ALLOWED})
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


async def test_openapi_describes_the_api(gw: Gw) -> None:
    spec = (await gw.client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/verdicts"]["post"]
    assert {"401", "403", "422", "429"} <= set(operation["responses"])
    assert "/r/{token}" not in spec["paths"]
    assert (await gw.client.get("/docs")).status_code == 200


async def test_health_and_readiness(gw: Gw) -> None:
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readiness_fails_when_a_store_does_not_answer(gw: Gw) -> None:
    def broken() -> None:
        raise ConnectionError("database is down")

    gw.state.recorder.store.ping = broken  # type: ignore[method-assign]
    gw.state.probes.append(lambda: Health("redis", ok=True, degraded=True, detail="local"))
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["click_log"]["ok"] is False
    assert "database is down" in checks["click_log"]["detail"]


async def test_degraded_probe_keeps_ready_but_says_so(gw: Gw) -> None:
    gw.state.probes.append(lambda: Health("redis", ok=True, degraded=True, detail="local"))
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"


async def test_metrics_count_clicks_by_verdict_and_kind(gw: Gw) -> None:
    await gw.client.get(gw.link(ALLOWED))
    await gw.client.get(gw.link(BLOCKED), headers={"user-agent": "curl/8"})
    await post(gw, {"url": ALLOWED})
    text = (await gw.client.get("/metrics")).text
    assert 'linkguard_clicks_total{kind="human",verdict="allow"} 1.0' in text
    assert 'linkguard_clicks_total{kind="scanner",verdict="block"} 1.0' in text
    assert 'linkguard_verdict_seconds_count{path="click"} 2.0' in text
    assert 'linkguard_verdict_seconds_count{path="api"} 1.0' in text
    assert 'linkguard_api_verdicts_total{verdict="allow"} 1.0' in text
