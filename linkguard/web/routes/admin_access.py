"""Access requests, the admins' side: approve or deny, through the API and the admin page.

API (bearer keys; ``admin:read`` to read, ``admin:write`` to decide)::

    GET  /v1/admin/access-requests                newest first; ?status= &requester= &cursor=
    GET  /v1/admin/access-requests/{id}           one request
    POST /v1/admin/access-requests/{id}/approve   {"note", "valid_for_hours"}: the link opens
                                                  for the person until then
    POST /v1/admin/access-requests/{id}/deny      {"note"}: shown to the person on their next
                                                  click

A request is decided once (409 after that, also when two admins press at the same moment).
Nobody decides their own request: an admin signed in with OIDC whose address is the
requester's gets 403 (four eyes). Decisions are audited by the store with before and after.
The page ``/admin/access`` lists pending requests with the same two actions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from linkguard.ports import (
    AccessRequest,
    AccessRequestStore,
    AccessStatus,
    AlreadyDecidedError,
)
from linkguard.web.routes.admin import (
    _ERRORS,
    Admin,
    ReadScope,
    RowId,
    WriteScope,
    _admin_or_redirect,
    _form,
    _PageContext,
    _see_other,
    actor_of,
    call,
)
from linkguard.web.routes.clicks import app_state, metrics_of
from linkguard.web.routes.verdicts import ApiError
from linkguard.web.state import AppState

router = APIRouter(prefix="/v1/admin", tags=["admin"])
pages = APIRouter(include_in_schema=False)

MAX_NOTE = 1000
MAX_APPROVAL_HOURS = 24 * 90


class AccessOut(BaseModel):
    id: int
    status: AccessStatus
    token_id: str = Field(description="The link: an approval lets exactly this link through")
    requester: str = Field(description="The address the person signed in with")
    method: str = Field(description="How they signed in: oidc or mailcode")
    justification: str
    recipient: str
    message_id: str
    destination: str
    registrable_domain: str
    verdict: str
    reasons: list[str]
    client_ip: str
    user_agent: str
    created: datetime
    decided: datetime | None
    decided_by: str
    note: str
    expires: datetime | None = Field(description="An approval lets the link through until then")


class AccessPageOut(BaseModel):
    items: list[AccessOut]
    next_cursor: str | None


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=MAX_NOTE,
                      description="Shown to no one but admins and the audit log")
    valid_for_hours: int | None = Field(
        default=None, ge=1, le=MAX_APPROVAL_HOURS,
        description="How long the link opens for the person (default: the gateway's setting)")


class DenyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=MAX_NOTE,
                      description="Shown to the person on their next click")


def access_out(found: AccessRequest) -> AccessOut:
    new = found.request
    return AccessOut(
        id=found.id, status=found.status, token_id=new.token_id, requester=new.requester,
        method=new.method, justification=new.justification, recipient=new.recipient,
        message_id=new.message_id, destination=new.destination,
        registrable_domain=new.registrable_domain, verdict=new.verdict,
        reasons=list(new.reasons), client_ip=new.client_ip, user_agent=new.user_agent,
        created=found.created, decided=found.decided, decided_by=found.decided_by,
        note=found.note, expires=found.expires)


def access_of(state: AppState) -> AccessRequestStore:
    if state.access is None:
        raise ApiError(503, "unavailable", "access requests are not set up (they need sign-in "
                                           "for confirmation and a database)")
    return state.access


async def decide(request: Request, request_id: int, *, approve: bool, actor: str, note: str,
                 hours: int | None = None) -> AccessRequest:
    """Approve or deny through the store; the API's and the page's one path."""
    state = app_state(request)
    store = access_of(state)
    found = await call(store.get, request_id)
    own = actor.removeprefix("oidc:").strip().lower()
    if actor.startswith("oidc:") and own == found.request.requester.strip().lower():
        raise ApiError(403, "forbidden", "nobody decides their own access request")
    expires = datetime.now(UTC) + timedelta(hours=hours or state.approval_hours) \
        if approve else None
    try:
        decided = await call(store.decide, request_id, approve=approve, actor=actor,
                             note=note.strip(), expires=expires)
    except AlreadyDecidedError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    metrics_of(request).access_requests.labels("approved" if approve else "denied").inc()
    return decided


# --- API ------------------------------------------------------------------------------------


@router.get("/access-requests", response_model=AccessPageOut, responses=_ERRORS,
            summary="Access requests for blocked links")
async def list_requests(request: Request, principal: ReadScope, *,
                        status: AccessStatus | None = None,
                        requester: Annotated[str | None, Query(max_length=320)] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        cursor: str | None = None) -> AccessPageOut:
    """Newest first; ``status=pending`` is the queue to work through."""
    del principal
    page = await call(access_of(app_state(request)).search, status=status,
                      requester=requester or None, limit=limit, cursor=cursor,
                      loc=("query", "cursor"))
    return AccessPageOut(items=[access_out(r) for r in page.items],
                         next_cursor=page.next_cursor)


@router.get("/access-requests/{request_id}", response_model=AccessOut, responses=_ERRORS,
            summary="One access request")
async def get_request(request_id: RowId, request: Request, principal: ReadScope) -> AccessOut:
    del principal
    return access_out(await call(access_of(app_state(request)).get, request_id))


@router.post("/access-requests/{request_id}/approve", response_model=AccessOut,
             responses=_ERRORS, summary="Approve: the link opens for the person for a while")
async def approve(request_id: RowId, request: Request, principal: WriteScope,
                  body: ApproveIn | None = None) -> AccessOut:
    body = body or ApproveIn()
    return access_out(await decide(request, request_id, approve=True,
                                   actor=actor_of(principal), note=body.note,
                                   hours=body.valid_for_hours))


@router.post("/access-requests/{request_id}/deny", response_model=AccessOut,
             responses=_ERRORS, summary="Deny: the person sees the note on their next click")
async def deny(request_id: RowId, request: Request, principal: WriteScope,
               body: DenyIn | None = None) -> AccessOut:
    body = body or DenyIn()
    return access_out(await decide(request, request_id, approve=False,
                                   actor=actor_of(principal), note=body.note))


# --- the admin page -------------------------------------------------------------------------

_DONE = {"approved": "Request approved: the link opens for the person.",
         "denied": "Request denied: the person sees your note on their next click."}


@pages.get("/admin/access")
async def access_page(request: Request) -> Response:
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    return await _access_page(state, request, admin,
                              message=_DONE.get(request.query_params.get("done", "")))


async def _access_page(state: AppState, request: Request, admin: Admin, *, status: int = 200,
                       error: str | None = None, message: str | None = None) -> Response:
    shown = request.query_params.get("status", "pending")
    chosen = AccessStatus(shown) if shown in {s.value for s in AccessStatus} else None
    items: list[AccessOut] = []
    try:
        page = await call(access_of(state).search, status=chosen, limit=200)
        items = [access_out(r) for r in page.items]
    except ApiError as exc:
        status, error = exc.status, str(exc.detail)
    return _PageContext(state, request).render(
        "admin_access.html", status=status, admin=admin, section="access", items=items,
        shown=chosen.value if chosen else "all", error=error, message=message,
        default_hours=state.approval_hours, max_hours=MAX_APPROVAL_HOURS, max_note=MAX_NOTE)


@pages.post("/admin/access/{request_id}")
async def decide_from_page(request_id: RowId, request: Request) -> Response:
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    form = await _form(state, request)
    if form is None:
        return await _access_page(state, request, admin, status=403,
                                  error="This form has expired. Please try again.")
    if not admin.can_write:
        return await _access_page(state, request, admin, status=403,
                                  error="Your key may read but not decide requests.")
    choice, note = form.get("decision"), form.get("note", "")
    hours_text = form.get("hours", "").strip()
    if choice not in ("approve", "deny") or len(note) > MAX_NOTE or (hours_text and not (
            hours_text.isdigit() and 1 <= int(hours_text) <= MAX_APPROVAL_HOURS)):
        return await _access_page(state, request, admin, status=422, error=(
            f"Choose approve or deny, a note under {MAX_NOTE} characters and 1 to "
            f"{MAX_APPROVAL_HOURS} hours."))
    try:
        await decide(request, request_id, approve=choice == "approve", actor=admin.who,
                     note=note, hours=int(hours_text) if hours_text else None)
    except ApiError as exc:
        return await _access_page(state, request, admin, status=exc.status,
                                  error=str(exc.detail))
    return _see_other("/admin/access?done=" + ("approved" if choice == "approve" else "denied"))
