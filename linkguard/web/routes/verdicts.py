"""``POST /v1/verdicts``: the same engine as the click path, for other services."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from linkguard.core.model import Decision, LinkContext
from linkguard.ports import StoreUnavailableError
from linkguard.service import ApiPrincipal
from linkguard.web.routes.clicks import app_state, metrics_of, rate_limited
from linkguard.web.state import AppState

router = APIRouter(prefix="/v1", tags=["verdicts"])

_bearer = HTTPBearer(auto_error=False, description="An API key with the `verdict` scope.")


class ApiError(Exception):
    """Answered as ``{"error": code, "detail": …}`` with the given status."""

    def __init__(self, status: int, error: str, detail: object,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


class ErrorBody(BaseModel):
    error: str
    detail: Any


def require_scope(scope: str) -> Any:
    """A dependency that admits a bearer key holding ``scope``."""

    def check(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiPrincipal:
        challenge = {"www-authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer <key>'",
                           challenge)
        principal = verify_key(app_state(request), credentials.credentials)
        if principal is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key", challenge)
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope")
        return principal

    return Depends(check)


def verify_key(state: AppState, secret: str) -> ApiPrincipal | None:
    """The key's principal: keys from settings first (memory), then keys created through the
    admin API or CLI (the key store; blocking, so callers run in a worker thread). A store
    key's name is ``"<id> <name>"``, as the audit log names it (``api-key:3 ops``)."""
    principal = state.api_keys.verify(secret)
    if principal is not None or state.api_key_store is None:
        return principal
    try:
        key = state.api_key_store.verify(secret)
    except StoreUnavailableError as exc:
        # Fail closed, but say why: a 401 would tell the caller its key is wrong.
        raise ApiError(503, "unavailable", f"API keys cannot be checked now: {exc}",
                       {"retry-after": "5"}) from None
    if key is None:
        return None
    return ApiPrincipal(f"{key.id} {key.name}", frozenset(str(s) for s in key.scopes))


VerdictScope = Annotated[ApiPrincipal, require_scope("verdict")]


class VerdictItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=16_384, description="The link's destination "
                     "(other vendors' wrappers and our own links are unwrapped first).")
    display_text: str | None = Field(None, max_length=4096,
                                     description="What the message showed for the link.")
    recipient: str | None = Field(None, max_length=320)


class VerdictBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[VerdictItem] = Field(min_length=1, max_length=100)


class ReasonOut(BaseModel):
    code: str
    message: str
    evidence: dict[str, Any]


class UrlOut(BaseModel):
    normalized: str | None = Field(description="The URL as a browser would open it; null when "
                                   "the input is not a URL.")
    registrable_domain: str | None
    unwrapped_from: list[str] | None = None


class VerdictOut(BaseModel):
    verdict: Literal["allow", "warn", "confirm", "block"]
    score: float
    reasons: list[ReasonOut]
    url: UrlOut


class VerdictBatchOut(BaseModel):
    results: list[VerdictOut]


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be read (not UTF-8 JSON)"},
    401: {"model": ErrorBody, "description": "No or unknown API key"},
    403: {"model": ErrorBody, "description": "The key lacks the verdict scope"},
    422: {"model": ErrorBody, "description": "The body is not valid (field paths in detail)"},
    429: {"model": ErrorBody, "description": "Too many requests (see Retry-After)"},
}


@router.post("/verdicts", response_model=VerdictOut | VerdictBatchOut, responses=_ERRORS,
             summary="Judge one URL, or up to 100")
async def verdicts(body: VerdictItem | VerdictBatch, request: Request,
                   principal: VerdictScope) -> Any:
    """One item gives one verdict; ``{"items": [...]}`` gives ``{"results": [...]}`` in order."""
    del principal
    state = app_state(request)
    limited = rate_limited(request, state, "api", state.api_rate)
    if limited is not None:
        return limited
    metrics = metrics_of(request)
    items = body.items if isinstance(body, VerdictBatch) else [body]
    results = []
    for item in items:
        started = time.perf_counter()
        context = LinkContext(display_text=item.display_text, recipient=item.recipient)
        decision = await state.gateway.decide(item.url, context)
        metrics.verdict_seconds.labels("api").observe(time.perf_counter() - started)
        metrics.api_verdicts.labels(str(decision.verdict)).inc()
        results.append(verdict_out(decision))
    if isinstance(body, VerdictBatch):
        return VerdictBatchOut(results=results)
    return results[0]


def verdict_out(decision: Decision) -> VerdictOut:
    url = decision.url
    return VerdictOut(
        verdict=str(decision.verdict),  # type: ignore[arg-type]
        score=float(round(decision.score, 1)),
        reasons=[ReasonOut(code=r.code, message=r.message, evidence=dict(r.evidence))
                 for r in decision.reasons],
        url=UrlOut(normalized=url.href if url else None,
                   registrable_domain=(url.registrable_domain or None) if url else None,
                   unwrapped_from=list(decision.unwrapped_from) or None),
    )


def error_response(exc: ApiError) -> Response:
    from starlette.responses import JSONResponse  # noqa: PLC0415

    return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=exc.status,
                        headers=exc.headers)
