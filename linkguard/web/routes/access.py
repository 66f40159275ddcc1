"""Asking for access to a blocked link: the person's side of out-of-band approval.

    GET  /r/{token}/request   signed in as the link's recipient: the destination, the reasons
                              and a form asking why; or, once asked, where the request stands
    POST /r/{token}/request   CSRF, session bound to the recipient, a reason → a pending
                              request (audited ``access.request``; admins are told)

Only blocks that the policy lets admins override get here (``Policy.overridable``: never an
admin's own block entry, a dangerous scheme or a reputation-feed hit). Signing in is the same
flow as for confirm links, with ``?for=request``. Admins approve or deny through
``/v1/admin/access-requests`` or the admin page; the click path (``routes/clicks.py``) then
lets the link through while the approval runs, or shows the denial.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from linkguard.core.clients import client_ip_for_log
from linkguard.core.identity import Identity, bind
from linkguard.ports import (
    AccessRequest,
    AccessRequestStore,
    ClickAction,
    DuplicateEntryError,
    NewAccessRequest,
    StoreUnavailableError,
)
from linkguard.service import Click
from linkguard.web.pages import decision_context, render
from linkguard.web.routes.clicks import metrics_of
from linkguard.web.routes.confirm import (
    REQUEST,
    SESSION_INVALID,
    SESSION_MISSING,
    again_url,
    csrf_refusal,
    decision_of,
    log_click,
    not_set_up,
    page_csrf,
    refuse,
    see_other,
    session_of,
    step_start,
    with_csrf_cookie,
)
from linkguard.web.security import client_ip
from linkguard.web.state import AppState, IdentityParts

log = logging.getLogger("linkguard.web.access")
router = APIRouter(include_in_schema=False)

JUSTIFICATION_FIELD = "justification"
MAX_JUSTIFICATION = 1000
MIN_JUSTIFICATION = 5
# Line breaks are kept (as \n); every other control or format character (bidi overrides,
# zero-width joiners …) is refused: the text is shown to an admin who must read it as typed.
_LINE_BREAKS = re.compile(r"\r\n?|\u2028|\u2029")


def clean_justification(text: str) -> tuple[str | None, str | None]:
    """(the reason to store, None) or (None, why it cannot be taken)."""
    text = _LINE_BREAKS.sub("\n", text).strip()
    if len(text) < MIN_JUSTIFICATION:
        return None, "Please say in a few words why you need to open this link."
    if len(text) > MAX_JUSTIFICATION:
        return None, f"Please keep the reason under {MAX_JUSTIFICATION} characters."
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\n\t"
           for ch in text):
        return None, "The reason contains invisible or control characters; please type it again."
    return text, None


@router.get("/r/{token}/request")
async def request_form(token: str, request: Request) -> Response:
    step = await _request_step(request, token)
    if isinstance(step, Response):
        return step
    state, opened, parts, store = step
    identity, _ = session_of(parts, request)
    if identity is None:
        return see_other(f"/r/{token}/sign-in?for=request")
    refused = await _binding_refusal(state, request, opened, token, identity, parts=parts)
    if refused is not None:
        return refused
    try:
        found = await run_in_threadpool(store.for_link, opened.token_id)
    except StoreUnavailableError:
        return _unavailable(state, opened)
    if found is not None and found.lets_through(datetime.now(UTC)):
        return see_other(f"/r/{token}")  # approved meanwhile: the link opens
    if found is not None and found.is_open(datetime.now(UTC)):
        return _status_page(state, opened, found)
    return _form(state, request, opened, token, identity)


@router.post("/r/{token}/request")
async def send_request(token: str, request: Request) -> Response:
    step = await _request_step(request, token)
    if isinstance(step, Response):
        return step
    state, opened, parts, store = step
    identity, present = session_of(parts, request)
    if identity is None:
        return await refuse(state, request, opened, token,
                            SESSION_INVALID if present else SESSION_MISSING, purpose=REQUEST)
    refusal = await csrf_refusal(state, request, opened)
    if refusal is not None:
        return await refuse(state, request, opened, token, refusal, identity=identity,
                            purpose=REQUEST)
    refused = await _binding_refusal(state, request, opened, token, identity, parts=parts)
    if refused is not None:
        return refused
    typed = (await request.form()).get(JUSTIFICATION_FIELD)
    justification, problem = clean_justification(typed if isinstance(typed, str) else "")
    if justification is None:
        return _form(state, request, opened, token, identity, status=422, error=problem,
                     typed=typed if isinstance(typed, str) else "")
    decision = decision_of(opened)
    claims = opened.claims
    new = NewAccessRequest(
        token_id=opened.token_id, requester=identity.email, method=identity.method,
        justification=justification, recipient=(claims.recipient or "") if claims else "",
        message_id=(claims.message_id or "") if claims else "",
        destination=decision.url.href if decision.url else "",
        registrable_domain=decision.url.registrable_domain if decision.url else "",
        verdict=str(decision.verdict), reasons=tuple(r.code for r in decision.reasons),
        client_ip=client_ip_for_log(client_ip(request), state.ip_mode, secret=state.ip_secret),
        user_agent=request.headers.get("user-agent", "")[:512])
    try:
        created = await run_in_threadpool(store.create, new)
    except DuplicateEntryError:
        return see_other(f"/r/{token}/request")  # asked already (another tab): show it
    except StoreUnavailableError:
        return _unavailable(state, opened)
    log.info("access requested for link %s by %s (request %d)", opened.token_id,
             identity.email, created.id)
    log_click(state, request, opened, ClickAction.ACCESS_REQUESTED, None)
    metrics_of(request).access_requests.labels("requested").inc()
    if state.notify_access is not None:
        await run_in_threadpool(_notify, state.notify_access, created)
    return see_other(f"/r/{token}/request")


async def _request_step(request: Request, token: str) -> tuple[
        AppState, Click, IdentityParts, AccessRequestStore] | Response:
    """The confirmation steps' start for a blocked link admins may override, and the store."""
    step = await step_start(request, token, REQUEST)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    if state.access is None:  # overridable() lets nothing through without a store
        return not_set_up(state, request, opened, token)
    return state, opened, parts, state.access


def _notify(notify: Callable[[AccessRequest], None], created: AccessRequest) -> None:
    try:
        notify(created)
    except Exception:  # the request is stored and audited; a lost notice is only logged
        log.exception("could not tell the admins of access request %d", created.id)


async def _binding_refusal(state: AppState, request: Request, opened: Click, token: str,
                           identity: Identity, *, parts: IdentityParts) -> Response | None:
    """Only the person the link was sent to may ask for it (aliases applied)."""
    binding = bind(identity.email, opened.claims.recipient if opened.claims else None,
                   parts.policy)
    if binding.allowed:
        return None
    return await refuse(state, request, opened, token, str(binding.outcome), identity=identity,
                        message=binding.message, purpose=REQUEST)


def _form(state: AppState, request: Request, opened: Click, token: str, identity: Identity,
          *, status: int = 200, error: str | None = None, typed: str = "") -> Response:
    csrf, cookie = page_csrf(state, request, opened.token_id)
    return with_csrf_cookie(state, request, cookie, render(
        state, "access_request.html", status=status, csrf=csrf,
        request_action=f"/r/{token}/request", email=identity.email, error=error,
        justification=typed[:MAX_JUSTIFICATION * 2], max_chars=MAX_JUSTIFICATION,
        again_url=again_url(token, REQUEST), reference=opened.token_id,
        dest_label="The link leads to", **decision_context(decision_of(opened))))


def _status_page(state: AppState, opened: Click, found: AccessRequest) -> Response:
    return render(state, "access_status.html", found=found, reference=opened.token_id,
                  dest_label="The link leads to", **decision_context(decision_of(opened)))


def _unavailable(state: AppState, opened: Click) -> Response:
    return render(state, "error.html", status=503, headers={"retry-after": "60"},
                  heading="Requests for access are unavailable right now",
                  message="The gateway cannot reach its store of requests at the moment. "
                          "The link stays blocked; please try again in a few minutes.",
                  reference=opened.token_id)
