"""Liveness, readiness and Prometheus metrics for operators and orchestrators."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from linkguard.ports import Health
from linkguard.web.routes.clicks import app_state, metrics_of
from linkguard.web.security import client_ip
from linkguard.web.state import AppState

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the stores answer",
            responses={503: {"description": "A store the gateway needs does not answer"}})
def readyz(request: Request) -> Response:
    state = app_state(request)
    if not _from_ops(state, request):
        return _not_found()
    # A nonce store that does not answer (Redis down) leaves the click path serving: the
    # replica stays ready, degraded, and confirmations fail closed. Reporting it as not ready
    # would take every replica out of the load balancer at once when the shared Redis is down.
    # (With the SQL nonce store, a database that does not answer fails the checks below.)
    results = [_probe("click_log", state.recorder.store.ping),
               _probe("nonce_store", state.nonces.ping, degraded_when_down=True)]
    stats = state.recorder.stats
    results.append(Health("click_queue", ok=True, extra={
        "pending": str(state.recorder.pending), "dropped": str(stats.dropped),
        "failed": str(stats.failed)}, degraded=stats.failed > 0,
        detail=stats.last_error if stats.failed else ""))
    for probe in state.probes:
        try:
            answer = probe()
            results.extend([answer] if isinstance(answer, Health) else answer)
        except Exception as exc:  # a broken probe is a failed check, not a 500
            results.append(Health(getattr(probe, "__name__", "probe"), ok=False,
                                  detail=f"{type(exc).__name__}: {exc}"))
    ok = all(r.ok for r in results)
    status = "ready" if ok and not any(r.degraded for r in results) else (
        "degraded" if ok else "not ready")
    body = {"status": status, "checks": [
        {"name": r.name, "ok": r.ok, "degraded": r.degraded, "detail": r.detail, **r.extra}
        for r in results]}
    return JSONResponse(body, status_code=200 if ok else 503)


def _probe(name: str, ping: Callable[[], None], *, degraded_when_down: bool = False) -> Health:
    try:
        ping()
    except Exception as exc:  # the store's own error, whatever its library
        detail = f"{type(exc).__name__}: {exc}"
        if degraded_when_down:
            return Health(name, ok=True, degraded=True,
                          detail=f"{detail}; confirmations fail closed")
        return Health(name, ok=False, detail=detail)
    return Health(name, ok=True)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    if not _from_ops(app_state(request), request):
        return _not_found()
    return Response(generate_latest(metrics_of(request).registry),
                    media_type=CONTENT_TYPE_LATEST)


def _from_ops(state: AppState, request: Request) -> bool:
    """Readiness details and metrics are for the orchestrator and the scraper inside the
    network (LINKGUARD_OPS_ALLOW), not for whoever clicks a link. The address is the one
    uvicorn settled on after trusted proxies' X-Forwarded-For."""
    if state.ops_allow is None:
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in state.ops_allow)


def _not_found() -> Response:
    return JSONResponse({"error": "not_found", "detail": "Not Found"}, status_code=404)
