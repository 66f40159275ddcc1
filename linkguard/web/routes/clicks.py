"""The click path: ``GET /r/{token}`` and the Continue form of the warning page.

GET (and HEAD) never change anything: a mail scanner fetching the link gets exactly the page a
person would, and only a POST carrying a CSRF field from that page continues past a warning.

A block that the policy lets admins override (``Policy.overridable``) costs one look-up of the
link's access request (``routes/access.py``): approved and still running → 303 like an allowed
link (logged ``approved``); otherwise the block page tells where the request stands or offers
to make one. Blocks are rare, so the look-up stays off the common path.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from linkguard.core.clients import ClientKind, classify, client_ip_for_log
from linkguard.core.model import Decision, Verdict
from linkguard.ports import (
    AccessRequest,
    AccessStatus,
    ClickAction,
    ClickEvent,
    ClickKind,
    StoreUnavailableError,
)
from linkguard.service import Click
from linkguard.web.metrics import Metrics
from linkguard.web.pages import decision_context, render
from linkguard.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    client_ip,
    client_view,
    csrf_field,
    csrf_ok,
    new_csrf_cookie,
    origin_of,
    same_origin,
)
from linkguard.web.state import AppState

log = logging.getLogger("linkguard.web.clicks")
router = APIRouter(include_in_schema=False)

_REDIRECT_HEADERS = {"referrer-policy": "no-referrer", "cache-control": "no-store"}


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.linkguard
    return state


def metrics_of(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def rate_limited(request: Request, state: AppState, route: str,
                 rate: tuple[int, float]) -> Response | None:
    retry = state.limiter.hit(f"{route}:{client_ip(request)}", limit=rate[0], window_s=rate[1])
    if retry is None:
        return None
    metrics_of(request).rate_limited.labels(route).inc()
    seconds = str(max(1, round(retry + 0.5)))
    if route == "api":
        from starlette.responses import JSONResponse  # noqa: PLC0415 - only on this path

        return JSONResponse({"error": "rate_limited", "detail": f"retry in {seconds} s"},
                            status_code=429, headers={"retry-after": seconds})
    return render(state, "error.html", status=429, headers={"retry-after": seconds},
                  heading="Too many requests",
                  message=f"Please wait {seconds} seconds and try again.")


@dataclass(frozen=True, slots=True)
class Override:
    """Where an overridable block stands: the link's newest access request, if any."""

    request: AccessRequest | None = None
    unavailable: bool = False  # the store could not be asked: no way through, no new request


def overridable(state: AppState, decision: Decision) -> bool:
    """A block that an approved access request may let through (and that people can ask for:
    it needs sign-in, to know who asks, and somewhere to keep requests)."""
    return (state.access is not None and state.identity is not None
            and decision.url is not None and decision.url.is_http
            and state.gateway.judge.policy.overridable(
                decision.verdict, (r.code for r in decision.reasons)))


async def override_for(state: AppState, opened: Click) -> Override | None:
    """The access request of a link whose block can be overridden; None for other links."""
    decision = opened.decision
    if opened.state != "ok" or decision is None or decision.verdict != Verdict.BLOCK \
            or not overridable(state, decision) or state.access is None:
        return None
    try:
        found = await run_in_threadpool(state.access.for_link, opened.token_id)
    except StoreUnavailableError:
        log.warning("access requests cannot be read; link %s stays blocked", opened.token_id)
        return Override(unavailable=True)
    return Override(found)


async def click(request: Request) -> Response:
    """``GET /r/{token}``: the hot path. A plain Starlette route (no FastAPI dependency
    resolution or validation: the token is an opaque string, opened and checked here)."""
    token: str = request.path_params["token"]
    state = app_state(request)
    limited = rate_limited(request, state, "click", state.click_rate)
    if limited is not None:
        return limited
    started = time.perf_counter()
    opened = await state.gateway.open(token)
    metrics = metrics_of(request)
    metrics.click_seconds.observe(time.perf_counter() - started)
    kind, _ = classify(client_view(request), state.scanner_agents)
    override = await override_for(state, opened) if opened.decision is not None \
        and opened.decision.verdict == Verdict.BLOCK else None
    response, action = answer(state, request, opened, token, continued=False,
                              override=override)
    if action is ClickAction.APPROVED:
        metrics.access_requests.labels("let_through").inc()
    record(state, request, opened, kind, action)
    return response


router.add_route("/r/{token}", click, methods=["GET", "HEAD"], include_in_schema=False)


@router.post("/r/{token}/continue")
async def continue_(token: str, request: Request) -> Response:
    state = app_state(request)
    limited = rate_limited(request, state, "click", state.click_rate)
    if limited is not None:
        return limited
    opened = await state.gateway.open(token)
    kind, _ = classify(client_view(request), state.scanner_agents)
    if opened.state == "ok":
        form = await request.form()
        value = form.get(CSRF_FIELD)
        field = value if isinstance(value, str) else None
        if not same_origin(request, state.base_url) or not csrf_ok(
                state.csrf_secret, request.cookies.get(CSRF_COOKIE), field, opened.token_id):
            record(state, request, opened, kind, ClickAction.REFUSED)
            return render(state, "error.html", status=403, heading="Please open the link again",
                          message="This request could not be verified as coming from the "
                                  "warning page. Go back to your message and click the link "
                                  "again.", reference=opened.token_id)
    response, action = answer(state, request, opened, token, continued=True)
    record(state, request, opened, kind, action)
    return response


def answer(state: AppState, request: Request, opened: Click, token: str,
           *, continued: bool, override: Override | None = None) -> tuple[Response, ClickAction]:
    metrics = metrics_of(request)
    if opened.state == "invalid":
        code = opened.error.code if opened.error else "token.invalid"
        metrics.token_errors.labels(code).inc()
        return render(state, "error.html", status=400, heading="This link cannot be opened",
                      message="The link is damaged or incomplete (sometimes a mail program cuts "
                              "long links), or it was not made by this gateway. Open it again "
                              "from the original message.",
                      reference=opened.token_id), ClickAction.TOKEN_INVALID
    if opened.state == "expired":
        metrics.token_errors.labels("token.expired").inc()
        return render(state, "error.html", status=410, heading="This link has expired",
                      message="Links in messages are protected for a limited time and this "
                              "one is too old. Ask the sender for a new link.",
                      reference=opened.token_id), ClickAction.TOKEN_EXPIRED
    decision = opened.decision
    assert decision is not None  # noqa: S101 - state "ok" always carries one
    verdict = decision.verdict
    url = decision.url
    if verdict <= Verdict.WARN and (url is None or not url.is_http):
        verdict = Verdict.BLOCK  # never redirect anywhere but the web
    if override is not None and override.request is not None and url is not None \
            and url.is_http and override.request.lets_through(datetime.now(UTC)):
        return Response(status_code=303, headers={"location": url.href, **_REDIRECT_HEADERS}), \
            ClickAction.APPROVED
    if verdict == Verdict.ALLOW or (verdict == Verdict.WARN and continued):
        assert url is not None  # noqa: S101 - checked above
        action = ClickAction.CONTINUED if verdict == Verdict.WARN else ClickAction.REDIRECT
        # url.href is the WHATWG serialisation: ASCII, already percent-encoded, no CR/LF.
        return Response(status_code=303, headers={"location": url.href, **_REDIRECT_HEADERS}), \
            action
    context = decision_context(decision)  # only pages need it: allow is the common case
    if verdict == Verdict.WARN:
        cookie = request.cookies.get(CSRF_COOKIE) or new_csrf_cookie()
        target = origin_of(url.href) if url else None
        response = render(state, "warn.html", form_targets=(target,) if target else (),
                          csrf=csrf_field(state.csrf_secret, cookie, opened.token_id),
                          continue_action=f"/r/{token}/continue", **context)
        if request.cookies.get(CSRF_COOKIE) != cookie:
            response.set_cookie(CSRF_COOKIE, cookie, max_age=8 * 3600, path="/r/",
                                secure=state.https, httponly=True, samesite="strict")
        return response, ClickAction.WARNED
    if verdict == Verdict.CONFIRM:
        sign_in_url = f"/r/{token}/sign-in" if state.identity is not None else None
        return render(state, "confirm.html", sign_in_url=sign_in_url,
                      reference=opened.token_id, **context), ClickAction.CONFIRM_REQUIRED
    return render(state, "block.html", status=403, reference=opened.token_id,
                  access=access_view(override, token), **context), ClickAction.BLOCKED


def access_view(override: Override | None, token: str) -> dict[str, object] | None:
    """What the block page says about asking for access (None: nothing, not overridable)."""
    if override is None:
        return None
    if override.unavailable:
        return {"state": "unavailable"}
    found = override.request
    if found is None or not found.is_open(datetime.now(UTC)):
        return {"state": "offer", "url": f"/r/{token}/request",
                "expired": found is not None}
    if found.status is AccessStatus.PENDING:
        return {"state": "pending", "created": found.created, "url": f"/r/{token}/request"}
    return {"state": "denied", "decided": found.decided, "note": found.note}


def record(state: AppState, request: Request, opened: Click, kind: ClientKind,
           action: ClickAction) -> None:
    claims, decision = opened.claims, opened.decision
    url = decision.url if decision else None
    event = ClickEvent(
        at=datetime.now(UTC), kind=ClickKind(kind), action=action, token_id=opened.token_id,
        message_id=(claims.message_id or "") if claims else "",
        recipient=(claims.recipient or "") if claims else "",
        destination=url.href if url else (claims.url if claims else ""),
        registrable_domain=url.registrable_domain if url else "",
        verdict=str(decision.verdict) if decision else "",
        score=float(decision.score) if decision else 0.0,
        reasons=tuple(r.code for r in decision.reasons) if decision else (),
        client_ip=client_ip_for_log(client_ip(request), state.ip_mode, secret=state.ip_secret),
        user_agent=request.headers.get("user-agent", "")[:512],
    )
    metrics_of(request).click(event.verdict or "none", kind)
    state.recorder.record(event)
