"""``create_app(state)``: the gateway as a FastAPI application.

The composition root (``linkguard.bootstrap.build_app``) builds the state from settings; tests
build it from in-memory parts. The lifespan starts the click-log flusher and whatever the state
asks to run beside the app, and on shutdown (SIGTERM under uvicorn) writes every click-log entry
it had accepted before the process ends.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

import linkguard
from linkguard.web.metrics import Metrics
from linkguard.web.pages import STATIC, render
from linkguard.web.routes import access, admin, admin_access, clicks, confirm, health, verdicts
from linkguard.web.routes.verdicts import ApiError, error_response
from linkguard.web.security import SecurityHeaders, csp
from linkguard.web.state import AppState


def create_app(state: AppState) -> FastAPI:
    metrics = Metrics()
    state.recorder.on_drop = metrics.queue_drops.inc
    state.recorder.on_written = metrics.log_written.inc

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.recorder.start()
        for start in state.on_start:
            await _maybe_await(start())
        # The catalog, brand index and lists are hundreds of thousands of long-lived objects;
        # moving them out of the collector's generations keeps full collections (and their
        # pauses on the click path) small. gc.freeze() is documented for exactly this.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            state.recorder.close()  # every accepted click-log entry is written first
            for stop in reversed(state.on_stop):
                await _maybe_await(stop())

    app = FastAPI(
        title="linkguard",
        version=getattr(linkguard, "__version__", "0"),
        description="Click-time link protection: the verdict API, health and metrics. "
                    "Sealed links are served under /r/.",
        lifespan=lifespan,
    )
    app.state.linkguard = state
    app.state.metrics = metrics
    app.include_router(clicks.router)
    app.include_router(confirm.router)
    app.include_router(access.router)
    app.include_router(verdicts.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(admin.pages)
    app.include_router(admin_access.router)
    app.include_router(admin_access.pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/theme.css", include_in_schema=False)
    def theme() -> Response:
        css = f":root {{ --accent: {state.branding.color}; }}\n"
        return Response(css, media_type="text/css",
                        headers={"cache-control": "public, max-age=300"})

    @app.get("/left", include_in_schema=False)
    def left() -> Response:
        return render(state, "left.html")

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return render(state, "error.html", heading="Link protection",
                      message=f"This service checks links in messages sent to "
                              f"{state.branding.org_name} before they open.")

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                   "type": e.get("type", "")} for e in exc.errors()]
        if request.url.path.startswith("/v1/"):
            return JSONResponse({"error": "invalid_request", "detail": detail},
                                status_code=422)
        return render(state, "error.html", status=422, heading="This request is not valid",
                      message="Open the link again from the original message.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers: dict[str, Any] = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; list every method
            # served at it (RFC 9110 §15.5.6: Allow lists the target's methods).
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["allow"] = ", ".join(sorted({
                method for route in request.app.routes if isinstance(route, APIRoute)
                and route.path_regex.match(request.url.path) for method in route.methods or ()}))
        if request.url.path.startswith("/v1/") or request.url.path in (
                "/openapi.json", "/healthz", "/readyz", "/metrics"):
            return JSONResponse({"error": _error_name(exc.status_code), "detail": exc.detail},
                                status_code=exc.status_code, headers=headers)
        return render(state, "error.html", status=exc.status_code, headers=headers,
                      heading="Page not found" if exc.status_code == 404 else "Request refused",
                      message="There is nothing here. Links from messages look like "
                              f"{state.base_url.rstrip('/')}/r/….")

    app.add_middleware(SecurityHeaders, hsts=state.https, default_csp=csp())
    return app


async def _maybe_await(result: object) -> None:
    if inspect.isawaitable(result):
        await result


def _error_name(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 413: "too_large",
            415: "unsupported_media_type", 429: "rate_limited",
            503: "unavailable"}.get(status, "error")
