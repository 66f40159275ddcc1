"""Identity-bound confirmation: sign in as the link's recipient, review, confirm once.

The path of a ``confirm`` link (DESIGN.md, issue 5)::

    GET  /r/{token}              confirm page: destination, reasons, "Sign in to confirm"
    GET  /r/{token}/sign-in      OIDC: pending state in a short-lived cookie, 303 to the IdP
                                 no IdP: a page offering a code mailed to the recipient
    GET  /auth/callback          OIDC: the IdP's answer → session cookie → back to /confirm
    POST /r/{token}/code/send    mail a code to the token's recipient (never a typed address)
    GET  /r/{token}/code         the form to type it
    POST /r/{token}/code         check it → session cookie → /confirm
    GET  /r/{token}/confirm      signed in: the full destination, reasons and a form carrying a
                                 CSRF field and a one-time nonce issued into the NonceStore
    POST /r/{token}/confirm      CSRF, nonce, binding, consume → 303 to the destination

The same sign-in serves access requests for blocked links (``?for=request``: the flow returns
to ``/r/{token}/request`` instead of ``/confirm``; see ``routes/access.py``).

GET never consumes anything: scanners and previews fetch every URL they see. The nonce is
consumed only by the POST, through the NonceStore port, so it works once across replicas; when
the store cannot answer, the confirmation fails closed. The destination is judged again on every
step: a domain blocked since the mail arrived gets the block page, not a confirmation.

The nonce in the form is ``random.issued.who.mac``: ``random`` is the key in the store, ``who``
a digest of the subject it was issued to, and the MAC (HMAC-SHA256 under a key derived from the
CSRF secret) covers those and the link's token id. The store alone can say only "not usable";
the signed parts let each refusal get its own page: another user's nonce, an expired one, a
replayed one. Every confirmation and refusal goes to the click log (``confirmed`` / ``refused``
with the refusal's code among the reasons) and to the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from linkguard.audit import AuditEvent
from linkguard.core.clients import classify, client_ip_for_log
from linkguard.core.identity import Identity, bind
from linkguard.core.model import Decision, Reason, Verdict
from linkguard.ports import ClickAction, StoreUnavailableError
from linkguard.service import Click
from linkguard.web.pages import decision_context, render
from linkguard.web.routes.clicks import (
    _REDIRECT_HEADERS,
    answer,
    app_state,
    overridable,
    rate_limited,
    record,
)
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
from linkguard.web.state import AppState, CookieSpec, Failure, IdentityParts

log = logging.getLogger("linkguard.web.confirm")
router = APIRouter(include_in_schema=False)

NONCE_FIELD = "nonce"
CODE_FIELD = "code"
CALLBACK_PATH = "/auth/callback"
# What a sign-in is for: confirming a confirm link, or asking for access to a blocked one.
CONFIRM, REQUEST = "confirm", "request"

# Refusal codes (stable: they appear in the click log and the audit log; README lists them).
# The binding's own outcomes (identity_mismatch, identity_outside_org, identity_no_recipient)
# come from linkguard.core.identity.
SESSION_MISSING = "session_missing"
SESSION_INVALID = "session_invalid"
CSRF_MISSING = "csrf_missing"
CSRF_INVALID = "csrf_invalid"
NONCE_MISSING = "nonce_missing"
NONCE_INVALID = "nonce_invalid"
NONCE_OTHER_USER = "nonce_other_user"
NONCE_EXPIRED = "nonce_expired"
NONCE_REPLAYED = "nonce_replayed"
STORE_UNAVAILABLE = "store_unavailable"
AUDIT_UNAVAILABLE = "audit_unavailable"

_PAGES: dict[str, tuple[int, str, str]] = {
    SESSION_MISSING: (401, "Please sign in first",
                      "This confirmation needs you to be signed in, and you are not (or your "
                      "sign-in has ended). Open the link again from the message to start over."),
    SESSION_INVALID: (401, "Your sign-in could not be verified",
                      "Your sign-in cookie was changed or has expired. Open the link again from "
                      "the message and sign in."),
    CSRF_MISSING: (403, "Please confirm from the confirmation page",
                   "This request did not come from the confirmation page. Open the link again "
                   "from the message and confirm there."),
    CSRF_INVALID: (403, "This request could not be verified",
                   "This request could not be verified as coming from the confirmation page in "
                   "this browser. Open the link again from the message and confirm there."),
    NONCE_MISSING: (403, "This confirmation is incomplete",
                    "The confirmation form was incomplete. Open the link again from the message."),
    NONCE_INVALID: (403, "This confirmation is not valid",
                    "The confirmation form was changed or belongs to another link. Open the link "
                    "again from the message."),
    NONCE_OTHER_USER: (403, "This confirmation belongs to someone else",
                       "The confirmation form was made for another signed-in person. Each person "
                       "has to confirm for themselves."),
    NONCE_EXPIRED: (403, "This confirmation has expired",
                    "The confirmation page was open too long. Open the link again from the "
                    "message and confirm within ten minutes."),
    NONCE_REPLAYED: (409, "This confirmation was already used",
                     "Each confirmation works once, and this one has been used (or is no longer "
                     "known). Open the link again from the message if you need it again."),
    STORE_UNAVAILABLE: (503, "Confirmation is unavailable right now",
                        "The gateway cannot check confirmations at the moment, so it does not "
                        "let this link through. Please try again in a few minutes."),
    AUDIT_UNAVAILABLE: (503, "Confirmation is unavailable right now",
                        "The gateway cannot record confirmations at the moment, so it does not "
                        "let this link through. Please try again in a few minutes."),
}

_BINDING_PAGES: dict[str, str] = {
    "identity_mismatch": "This link was sent to someone else",
    "identity_outside_org": "This account is not one of this organisation's",
    "identity_no_recipient": "This link cannot be confirmed",
}


# --- the steps ------------------------------------------------------------------------------


@router.get("/r/{token}/sign-in")
async def sign_in(token: str, request: Request) -> Response:
    purpose = purpose_of(request)
    step = await step_start(request, token, purpose)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    again = "again" in request.query_params  # "sign in as someone else"
    if not again and session_of(parts, request)[0] is not None:
        return see_other(f"/r/{token}/{purpose}")
    if parts.oidc is not None:
        started = await parts.oidc.begin(state.base_url.rstrip("/") + CALLBACK_PATH,
                                         return_to=f"/r/{token}/{purpose}",
                                         prompt="login" if again else None)
        if isinstance(started, Failure):
            return _sign_in_failed(state, started, opened.token_id)
        response = see_other(started.url)
        response.set_cookie(value=started.pending, **parts.pending_cookie.as_kwargs())
        return response
    csrf, cookie = page_csrf(state, request, opened.token_id)
    recipient = opened.claims.recipient if opened.claims else None
    return with_csrf_cookie(state, request, cookie, render(
        state, "code_request.html", csrf=csrf,
        send_action=f"/r/{token}/code/send{_for(purpose)}",
        masked_recipient=_mask(recipient) if recipient else None,
        local_only=parts.codes_local_only, reference=opened.token_id,
        **decision_context(decision_of(opened))))


@router.get(CALLBACK_PATH)
async def callback(request: Request) -> Response:
    state = app_state(request)
    limited = rate_limited(request, state, "click", state.click_rate)
    if limited is not None:
        return limited
    parts = state.identity
    if parts is None or parts.oidc is None:
        return render(state, "error.html", status=404, heading="Page not found",
                      message="Sign-in with an identity provider is not set up here.")
    pending = request.cookies.get(parts.pending_cookie.key)
    result = await parts.oidc.complete(dict(request.query_params), pending)
    if isinstance(result, Failure):
        response = _sign_in_failed(state, result, None)
    else:
        response = see_other(parts.oidc.return_to(pending))
        response.set_cookie(value=parts.sessions.dumps(result),
                            **parts.session_cookie.as_kwargs())
    _clear_cookie(response, parts.pending_cookie)
    return response


@router.post("/r/{token}/code/send")
async def send_code(token: str, request: Request) -> Response:
    purpose = purpose_of(request)
    step = await step_start(request, token, purpose, codes=True)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    refusal = await csrf_refusal(state, request, opened)
    if refusal is not None:
        return await refuse(state, request, opened, token, refusal)
    recipient = opened.claims.recipient if opened.claims else None
    codes = parts.codes
    if codes is None:  # step_start checked it already
        return not_set_up(state, request, opened, token)
    sent = await run_in_threadpool(codes.send, recipient, client_ip=client_ip(request))
    if isinstance(sent, Failure):
        return _code_failed(state, sent, opened.token_id)
    response = see_other(f"/r/{token}/code{_for(purpose)}")
    response.set_cookie(value=sent.value, **parts.pending_cookie.as_kwargs())
    return response


@router.get("/r/{token}/code")
async def code_form(token: str, request: Request) -> Response:
    purpose = purpose_of(request)
    step = await step_start(request, token, purpose, codes=True)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    if not request.cookies.get(parts.pending_cookie.key):
        return see_other(f"/r/{token}/sign-in{_for(purpose)}")
    return _code_page(state, request, opened, token, parts, purpose=purpose)


@router.post("/r/{token}/code")
async def check_code(token: str, request: Request) -> Response:
    purpose = purpose_of(request)
    step = await step_start(request, token, purpose, codes=True)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    refusal = await csrf_refusal(state, request, opened)
    if refusal is not None:
        return await refuse(state, request, opened, token, refusal)
    typed = (await request.form()).get(CODE_FIELD)
    challenge = request.cookies.get(parts.pending_cookie.key)
    codes = parts.codes
    if codes is None:  # step_start checked it already
        return not_set_up(state, request, opened, token)
    result = await run_in_threadpool(codes.verify, challenge,
                                     typed if isinstance(typed, str) else "",
                                     client_ip=client_ip(request))
    if isinstance(result, Failure):
        reason = f"mailcode_{result.code}"
        await _log_refusal(state, request, opened, reason, None)
        if result.code == "wrong_code":  # the same form again: up to five tries
            return _code_page(state, request, opened, token, parts, status=result.status,
                              error=result.message, purpose=purpose)
        return render(state, "refused.html", status=result.status,
                      heading="The code was not accepted", message=_sentence(result.message),
                      reason=reason, reference=opened.token_id,
                      again_url=f"/r/{token}/sign-in{_for(purpose)}")
    response = see_other(f"/r/{token}/{purpose}")
    response.set_cookie(value=parts.sessions.dumps(result), **parts.session_cookie.as_kwargs())
    _clear_cookie(response, parts.pending_cookie)
    return response


@router.get("/r/{token}/confirm")
async def review(token: str, request: Request) -> Response:
    step = await step_start(request, token)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    identity, _ = session_of(parts, request)
    if identity is None:
        response = see_other(f"/r/{token}/sign-in")
        _clear_cookie(response, parts.session_cookie)
        return response
    binding = bind(identity.email, opened.claims.recipient if opened.claims else None,
                   parts.policy)
    if not binding.allowed:
        return await refuse(state, request, opened, token, str(binding.outcome),
                             identity=identity,
                             message=binding.message)
    nonce, key = _new_nonce(state, parts, identity, opened.token_id)
    try:
        await run_in_threadpool(state.nonces.issue, key, _nonce_subject(identity, opened),
                                parts.nonce_ttl_s)
    except StoreUnavailableError:
        return await refuse(state, request, opened, token, STORE_UNAVAILABLE, identity=identity)
    decision = decision_of(opened)
    csrf, cookie = page_csrf(state, request, opened.token_id)
    target = origin_of(decision.url.href) if decision.url else None
    return with_csrf_cookie(state, request, cookie, render(
        state, "confirm_review.html", form_targets=(target,) if target else (),
        csrf=csrf, nonce=nonce, confirm_action=f"/r/{token}/confirm", email=identity.email,
        again_url=again_url(token, CONFIRM), reference=opened.token_id,
        dest_label="You are about to open", **decision_context(decision)))


@router.post("/r/{token}/confirm")
async def confirm(token: str, request: Request) -> Response:
    step = await step_start(request, token)
    if isinstance(step, Response):
        return step
    state, opened, parts = step
    identity, present = session_of(parts, request)
    if identity is None:
        return await refuse(state, request, opened, token,
                             SESSION_INVALID if present else SESSION_MISSING)
    refusal = await csrf_refusal(state, request, opened)
    if refusal is not None:
        return await refuse(state, request, opened, token, refusal, identity=identity)
    value = (await request.form()).get(NONCE_FIELD)
    refusal, key = _read_nonce(state, parts, value if isinstance(value, str) else None,
                               identity, opened.token_id)
    if refusal is not None:
        return await refuse(state, request, opened, token, refusal, identity=identity)
    binding = bind(identity.email, opened.claims.recipient if opened.claims else None,
                   parts.policy)
    if not binding.allowed:
        return await refuse(state, request, opened, token, str(binding.outcome),
                             identity=identity,
                             message=binding.message)
    try:
        fresh = await run_in_threadpool(state.nonces.consume, key,
                                        _nonce_subject(identity, opened))
    except StoreUnavailableError:
        return await refuse(state, request, opened, token, STORE_UNAVAILABLE, identity=identity)
    if not fresh:
        return await refuse(state, request, opened, token, NONCE_REPLAYED, identity=identity)
    url = decision_of(opened).url
    assert url is not None  # noqa: S101 - open_confirm_link lets only web URLs through
    if not await _audit(state, request, opened, identity, action="click.confirm",
                        outcome="confirmed"):
        return await refuse(state, request, opened, token, AUDIT_UNAVAILABLE, identity=identity)
    log_click(state, request, opened, ClickAction.CONFIRMED, None)
    return RedirectResponse(url.href, status_code=303, headers=_REDIRECT_HEADERS)


# --- helpers --------------------------------------------------------------------------------


async def open_confirm_link(state: AppState, request: Request, token: str,
                             purpose: str = CONFIRM) -> tuple[Click, Response | None]:
    """The link judged now; an answer when it is not (or no longer) a confirm link — or, for
    ``REQUEST``, a blocked link whose block admins may override.

    A token that does not open, or a destination that is now allowed, warned or blocked, gets
    what ``GET /r/{token}`` would give (and is logged like it); a confirm verdict for something
    that is not a web URL is blocked, since confirming it would redirect off the web.
    """
    opened = await state.gateway.open(token)
    decision = opened.decision
    wanted = decision is not None and (
        decision.verdict == Verdict.CONFIRM if purpose == CONFIRM
        else overridable(state, decision))
    if opened.state == "ok" and decision is not None and wanted:
        if decision.url is not None and decision.url.is_http:
            return opened, None
        log_click(state, request, opened, ClickAction.BLOCKED, None)
        return opened, render(state, "block.html", status=403, reference=opened.token_id,
                              **decision_context(decision))
    response, action = answer(state, request, opened, token, continued=False)
    log_click(state, request, opened, action, None)
    return opened, response


async def step_start(request: Request, token: str, purpose: str = CONFIRM, *,
                codes: bool = False) -> tuple[AppState, Click, IdentityParts] | Response:
    """Every step's start: the rate limit, the link judged now (still a link for this
    purpose?), and sign-in set up (mailed codes, when ``codes``). An answer when not."""
    state = app_state(request)
    limited = rate_limited(request, state, "click", state.click_rate)
    if limited is not None:
        return limited
    opened, early = await open_confirm_link(state, request, token, purpose)
    parts = state.identity
    if early is not None or parts is None or (codes and parts.codes is None):
        return early or not_set_up(state, request, opened, token)
    return state, opened, parts


def purpose_of(request: Request) -> str:
    return REQUEST if request.query_params.get("for") == REQUEST else CONFIRM


def _for(purpose: str) -> str:
    """The query that keeps a sign-in's purpose from one step to the next."""
    return "?for=request" if purpose == REQUEST else ""


def again_url(token: str, purpose: str) -> str:
    """"Sign in as someone else": a fresh sign-in (OIDC prompt=login) for the same purpose."""
    return f"/r/{token}/sign-in?for=request&again=1" if purpose == REQUEST \
        else f"/r/{token}/sign-in?again=1"


def not_set_up(state: AppState, request: Request, opened: Click, token: str) -> Response:
    # Only reachable when identity (or the mailed codes) are not configured: today's page.
    response, _ = answer(state, request, opened, token, continued=False)
    return response


def decision_of(opened: Click) -> Decision:
    assert opened.decision is not None  # noqa: S101 - an "ok" click always has one
    return opened.decision


def session_of(parts: IdentityParts, request: Request) -> tuple[Identity | None, bool]:
    """The signed-in identity, and whether a session cookie was sent at all."""
    raw = request.cookies.get(parts.session_cookie.key)
    return parts.sessions.loads(raw), bool(raw)


def _nonce_subject(identity: Identity, opened: Click) -> str:
    return f"{identity.subject}|{opened.token_id}"


def _nonce_key(state: AppState) -> bytes:
    return hmac.new(state.csrf_secret, b"linkguard.confirm-nonce", hashlib.sha256).digest()


def _who(subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode()


def _nonce_mac(key: bytes, random: str, issued: int, who: str, token_id: str) -> str:
    message = f"confirm|{random}|{issued}|{who}|{token_id}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()[:18]).decode()


def _new_nonce(state: AppState, parts: IdentityParts, identity: Identity,
               token_id: str) -> tuple[str, str]:
    """The form value and the store key of a fresh nonce for this person and link."""
    random = secrets.token_urlsafe(18)
    issued, who = int(parts.clock()), _who(identity.subject)
    mac = _nonce_mac(_nonce_key(state), random, issued, who, token_id)
    return f"{random}.{issued}.{who}.{mac}", random


def _read_nonce(state: AppState, parts: IdentityParts, value: str | None, identity: Identity,
                token_id: str) -> tuple[str | None, str]:
    """(refusal code or None, store key) for a posted nonce."""
    if not value:
        return NONCE_MISSING, ""
    pieces = value.split(".")
    if len(value) > 200 or len(pieces) != 4 or not pieces[1].isdigit():
        return NONCE_INVALID, ""
    random, issued_text, who, mac = pieces
    issued = int(issued_text)
    expected = _nonce_mac(_nonce_key(state), random, issued, who, token_id)
    if not hmac.compare_digest(mac, expected):
        return NONCE_INVALID, ""
    if not hmac.compare_digest(who, _who(identity.subject)):
        return NONCE_OTHER_USER, ""
    if parts.clock() - issued > parts.nonce_ttl_s:
        return NONCE_EXPIRED, ""
    return None, random


def _confirm_csrf_secret(state: AppState) -> bytes:
    # Its own key: a Continue form's field is never a confirmation form's, and back.
    return hmac.new(state.csrf_secret, b"linkguard.confirm-csrf", hashlib.sha256).digest()


def page_csrf(state: AppState, request: Request, token_id: str) -> tuple[str, str]:
    cookie = request.cookies.get(CSRF_COOKIE) or new_csrf_cookie()
    return csrf_field(_confirm_csrf_secret(state), cookie, token_id), cookie


def with_csrf_cookie(state: AppState, request: Request, cookie: str,
                      response: Response) -> Response:
    if request.cookies.get(CSRF_COOKIE) != cookie:  # same cookie as the warning page's
        response.set_cookie(CSRF_COOKIE, cookie, max_age=8 * 3600, path="/r/",
                            secure=state.https, httponly=True, samesite="strict")
    return response


async def csrf_refusal(state: AppState, request: Request, opened: Click) -> str | None:
    value = (await request.form()).get(CSRF_FIELD)
    if not isinstance(value, str) or not value:
        return CSRF_MISSING
    if not same_origin(request, state.base_url) or not csrf_ok(
            _confirm_csrf_secret(state), request.cookies.get(CSRF_COOKIE), value,
            opened.token_id):
        return CSRF_INVALID
    return None


def _code_page(state: AppState, request: Request, opened: Click, token: str,
               parts: IdentityParts, *, status: int = 200, error: str | None = None,
               purpose: str = CONFIRM) -> Response:
    csrf, cookie = page_csrf(state, request, opened.token_id)
    return with_csrf_cookie(state, request, cookie, render(
        state, "code_enter.html", status=status, csrf=csrf,
        check_action=f"/r/{token}/code{_for(purpose)}",
        resend_url=f"/r/{token}/sign-in{_for(purpose)}",
        error=_sentence(error) if error else None,
        local_only=parts.codes_local_only, reference=opened.token_id))


async def refuse(state: AppState, request: Request, opened: Click, token: str, reason: str,
                  *, identity: Identity | None = None, message: str | None = None,
                  purpose: str = CONFIRM) -> Response:
    """A refusal: its own page, a ``refused`` click-log entry and an audit event."""
    await _log_refusal(state, request, opened, reason, identity)
    status, heading, text = _PAGES.get(reason, (403, _BINDING_PAGES.get(
        reason, "This link cannot be confirmed"), ""))
    if message is not None:
        text = _sentence(message) + (" Sign in as the person the message was sent to, or ask "
                                     "them to open it.")
    headers = {"retry-after": "60"} if status == 503 else None
    return render(state, "refused.html", status=status, headers=headers, heading=heading,
                  message=text, reason=reason, reference=opened.token_id,
                  email=identity.email if identity else None,
                  again_url=again_url(token, purpose) if reason in _BINDING_PAGES else None)


async def _log_refusal(state: AppState, request: Request, opened: Click, reason: str,
                       identity: Identity | None) -> None:
    log.info("confirmation refused: %s (link %s)", reason, opened.token_id)
    log_click(state, request, opened, ClickAction.REFUSED, reason)
    await _audit(state, request, opened, identity, action="click.refuse", outcome=reason)


def log_click(state: AppState, request: Request, opened: Click, action: ClickAction,
               refusal: str | None) -> None:
    """The click-log entry, with the refusal's code after the verdict's reasons."""
    if refusal is not None and opened.decision is not None:
        extra = Reason(refusal, "confirmation refused", {})
        opened = replace(opened, decision=replace(
            opened.decision, reasons=(*opened.decision.reasons, extra)))
    kind, _ = classify(client_view(request), state.scanner_agents)
    record(state, request, opened, kind, action)


async def _audit(state: AppState, request: Request, opened: Click, identity: Identity | None,
                 *, action: str, outcome: str) -> bool:
    """Write the audit event; False when the audit log could not take it."""
    if state.audit is None:
        return True
    decision = opened.decision
    after: dict[str, object] = {
        "outcome": outcome,
        "subject": identity.subject if identity else "",
        "email": identity.email if identity else "",
        "method": identity.method if identity else "",
        "recipient": (opened.claims.recipient or "") if opened.claims else "",
        "destination": decision.url.href if decision and decision.url else "",
        "verdict": str(decision.verdict) if decision else "",
        "reasons": [r.code for r in decision.reasons] if decision else [],
        "client_ip": client_ip_for_log(client_ip(request), state.ip_mode,
                                       secret=state.ip_secret),
        "user_agent": request.headers.get("user-agent", "")[:512],
    }
    actor = f"{identity.method}:{identity.email}" if identity else "anonymous"
    event = AuditEvent(at=datetime.now(UTC), actor=actor, action=action, object_type="click",
                       object_id=opened.token_id, after=after)
    try:
        await run_in_threadpool(state.audit.record, event)
    except Exception:
        log.exception("audit log write failed for %s on link %s", action, opened.token_id)
        return False
    return True


def _sign_in_failed(state: AppState, failure: Failure, reference: str | None) -> Response:
    heading = ("Sign-in is unavailable right now" if failure.status >= 500
               else "Sign-in did not work")
    return render(state, "refused.html", status=failure.status, heading=heading,
                  message=_sentence(failure.message), reason=f"signin_{failure.code}",
                  reference=reference)


def _code_failed(state: AppState, failure: Failure, reference: str) -> Response:
    headers = None
    retry = getattr(failure, "retry_after_s", None)
    if isinstance(retry, int | float) and retry > 0:
        headers = {"retry-after": str(max(1, round(retry + 0.5)))}
    return render(state, "refused.html", status=failure.status, headers=headers,
                  heading="No code was sent", message=_sentence(failure.message),
                  reason=f"mailcode_{failure.code}", reference=reference)


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _clear_cookie(response: Response, spec: CookieSpec) -> None:
    # The same attributes as when it was set: a __Host- cookie is only replaced by a Secure one.
    params = spec.as_kwargs()
    response.delete_cookie(params["key"], path=params["path"], secure=params["secure"],
                           httponly=params["httponly"], samesite=params["samesite"])


def _mask(address: str) -> str:
    """``a•••e@corp.example``: enough for the recipient to recognise, little for anyone else."""
    local, _, domain = address.strip().rpartition("@")
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text
