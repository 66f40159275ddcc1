"""The admin API under ``/v1/admin`` and the admin page under ``/admin``.

API (bearer keys; ``admin:read`` for reads, ``admin:write`` for changes)::

    GET    /v1/admin/lists                 entries: action, kind, origin, search; cursor pages
    POST   /v1/admin/lists                 add an entry (201)
    GET    /v1/admin/lists/{id}            one entry
    PUT    /v1/admin/lists/{id}            replace an entry's fields
    PATCH  /v1/admin/lists/{id}            change some fields
    DELETE /v1/admin/lists/{id}            remove it (answers with what it was)
    POST   /v1/admin/lists/import          JSON array or the YAML list-file format; ?replace=
    GET    /v1/admin/lists/export          ?format=json|yaml (imports back unchanged)
    GET    /v1/admin/api-keys              keys without secrets
    POST   /v1/admin/api-keys              a new key; its secret is in this answer only (201)
    DELETE /v1/admin/api-keys/{id}         revoke
    GET    /v1/admin/policy                weights, thresholds, precedence (read-only)
    GET    /v1/admin/clicks                click search, newest first, keyset cursor
    GET    /v1/admin/clicks/hunt           who clicked links to a domain since T, who confirmed
    GET    /v1/admin/audit                 the audit log, newest first
    …/access-requests                      approvals of blocked links: see admin_access.py

Errors are ``{"error", "detail"}``: 401 (no or unknown key), 403 (scope), 404, 409 (duplicate
entry), 422 (``detail`` is a list of ``{"loc", "msg", "type"}`` with field paths), 503 (a store
cannot be reached). The stores audit every change in the same transaction; the routes pass the
actor: ``api-key:<name>`` for API keys (``api-key:3 ops`` for keys from the key store),
``oidc:<e-mail>`` for admins signed in to the page with OIDC.

The page is server-rendered (no script), behind its own sign-in: an admin API key typed into a
form, or OIDC for members of the configured admin group. Its session is a signed cookie
(HttpOnly, SameSite=Strict); every form carries a CSRF field bound to a cookie of its own, and
posts must come from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from linkguard.core.listfile import ListFileError
from linkguard.core.lists import (
    Action,
    ListEntry,
    MatchKind,
    export_list_file,
    normalise_match,
    parse_list_file,
)
from linkguard.core.model import LinkContext
from linkguard.core.url import host_to_ascii, split_domain
from linkguard.ports import (
    ApiKey,
    ApiKeyStore,
    ApiScope,
    AuditEvent,
    AuditLog,
    ClickAction,
    ClickEvent,
    ClickKind,
    ClickLog,
    ClickQuery,
    ClickTally,
    DuplicateEntryError,
    EntryNotFoundError,
    ListSource,
    ListStore,
    StoredEntry,
    StoreUnavailableError,
    SyncResult,
)
from linkguard.service import ApiPrincipal
from linkguard.web.pages import reason_view, render
from linkguard.web.routes.clicks import app_state
from linkguard.web.routes.verdicts import ApiError, ErrorBody, require_scope, verify_key
from linkguard.web.security import csrf_field, csrf_ok, new_csrf_cookie, same_origin
from linkguard.web.state import AdminParts, AppState, Failure

router = APIRouter(prefix="/v1/admin", tags=["admin"])
pages = APIRouter(include_in_schema=False)

ReadScope = Annotated[ApiPrincipal, require_scope(ApiScope.ADMIN_READ.value)]
WriteScope = Annotated[ApiPrincipal, require_scope(ApiScope.ADMIN_WRITE.value)]

MAX_IMPORT_BYTES = 5 * 1024 * 1024  # a list file of ~50,000 entries
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
              "text/plain")
T = TypeVar("T")
# Ids are 64-bit database integers: a larger number is a 422, not a driver overflow (a 500).
RowId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be read (not UTF-8 JSON)"},
    401: {"model": ErrorBody, "description": "No or unknown API key"},
    403: {"model": ErrorBody, "description": "The key lacks the scope"},
    404: {"model": ErrorBody, "description": "No such entry or key"},
    409: {"model": ErrorBody, "description": "The same entry exists already"},
    413: {"model": ErrorBody, "description": "The import is too large"},
    415: {"model": ErrorBody, "description": "The import is neither JSON nor YAML"},
    422: {"model": ErrorBody, "description": "Not valid (field paths in detail)"},
    503: {"model": ErrorBody, "description": "A store cannot be reached"},
}


def actor_of(principal: ApiPrincipal) -> str:
    return f"api-key:{principal.name}"


# --- models ---------------------------------------------------------------------------------

KindName = Literal["domain", "domain_only", "host", "url_prefix"]


class EntryIn(BaseModel):
    """An allow or block entry, validated and normalised as list files are."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["allow", "block"]
    kind: KindName = Field(description="domain (with subdomains), domain_only, host, "
                           "url_prefix")
    value: str = Field(min_length=1, max_length=2048)
    reason: str = Field("", max_length=1000)
    owner: str = Field("", max_length=320)
    expires: datetime | None = Field(None, description="ISO 8601; UTC when no offset is given")

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself failed: its error says so
            return value
        name = "domain" if kind == "domain_only" else str(kind)
        return normalise_match(name, value, subdomains=kind != "domain_only")[1]

    @field_validator("expires")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None \
            else value

    def entry(self) -> ListEntry:
        return ListEntry(Action(self.action), MatchKind(self.kind), self.value,
                         reason=self.reason, owner=self.owner, expires=self.expires,
                         source="api")


class ImportEntry(EntryIn):
    """An entry of a JSON import: the export's own fields are accepted and ignored, so an
    export imports back unchanged."""

    id: int | None = None
    origin: str | None = None
    source: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


class EntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["allow", "block"] | None = None
    kind: KindName | None = None
    value: str | None = None
    reason: str | None = None
    owner: str | None = None
    expires: datetime | None = None


class EntryOut(BaseModel):
    id: int
    action: str
    kind: str
    value: str
    reason: str
    owner: str
    expires: datetime | None
    origin: str = Field(description="file (managed by `linkguard lists sync`) or api")
    source: str = Field(description="file:line for file entries, api otherwise")
    created: datetime
    updated: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class ImportOut(BaseModel):
    added: int
    updated: int
    removed: int
    unchanged: int
    version: int


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["verdict", "admin:read", "admin:write"]] = Field(min_length=1)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created: datetime
    last_used: datetime | None
    revoked: datetime | None


class NewKeyOut(KeyOut):
    secret: str = Field(description="Shown in this answer only; only its hash is kept.")


class KeyList(BaseModel):
    items: list[KeyOut]


class PolicyOut(BaseModel):
    thresholds: dict[str, float]
    weights: dict[str, float]
    allowlisted_feed_verdict: str
    precedence: list[str]
    checks: list[str]
    list_entries: int
    access_requests: bool = Field(description="Whether blocked links may be asked for")
    never_overridable: list[str] = Field(
        description="Blocks with any of these reasons cannot be approved out of band")


class ClickOut(BaseModel):
    at: datetime
    kind: str
    action: str
    recipient: str
    destination: str
    registrable_domain: str
    verdict: str
    score: float
    reasons: list[str]
    token_id: str
    message_id: str
    client_ip: str
    user_agent: str


class ClickPageOut(BaseModel):
    items: list[ClickOut]
    next_cursor: str | None


class HuntRow(BaseModel):
    recipient: str
    clicks: int
    human: int
    scanner: int
    first: datetime
    last: datetime
    confirmed: bool
    continued: bool = Field(description="went on past a warning")
    approved: bool = Field(default=False,
                           description="went through a block on an admin's approval")
    actions: dict[str, int]


class HuntOut(BaseModel):
    domain: str
    since: datetime
    until: datetime | None
    recipients: list[HuntRow]
    events: int
    truncated: bool = Field(description="always false: the store counts every matching click "
                            "(kept for clients of the first version of this answer)")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


def entry_out(stored: StoredEntry) -> EntryOut:
    e = stored.entry
    return EntryOut(id=stored.id, action=str(e.action), kind=str(e.kind), value=e.value,
                    reason=e.reason, owner=e.owner, expires=e.expires,
                    origin=str(stored.origin), source=e.source, created=stored.created,
                    updated=stored.updated)


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(id=key.id, name=key.name, prefix=key.prefix, scopes=sorted(key.scopes),
                  created=key.created, last_used=key.last_used, revoked=key.revoked)


def click_out(event: ClickEvent) -> ClickOut:
    return ClickOut(at=event.at, kind=str(event.kind), action=str(event.action),
                    recipient=event.recipient, destination=event.destination,
                    registrable_domain=event.registrable_domain, verdict=event.verdict,
                    score=event.score, reasons=list(event.reasons), token_id=event.token_id,
                    message_id=event.message_id, client_ip=event.client_ip,
                    user_agent=event.user_agent)


# --- store access: blocking calls in a worker thread, store errors as HTTP errors ----------


def invalid(loc: Sequence[str | int], msg: str, kind: str = "value_error") -> ApiError:
    return ApiError(422, "invalid_request", [{"loc": list(loc), "msg": msg, "type": kind}])


async def call(function: Callable[..., T], *args: Any, loc: Sequence[str | int] = ("body",),
               **kwargs: Any) -> T:
    """Run a store call off the event loop; its expected failures become 4xx/503."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except EntryNotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except DuplicateEntryError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except StoreUnavailableError as exc:
        raise ApiError(503, "unavailable", str(exc), {"retry-after": "5"}) from None
    except ValueError as exc:  # a file entry edited through the API, a bad cursor …
        raise invalid(loc, str(exc)) from None


async def write(state: AppState, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A list change through ``call``; then this replica reloads its lists, so its own
    answers (the verdict tester, the click path) show the change at once."""
    result = await call(function, *args, **kwargs)
    if state.reload_lists is not None:
        # Unreachable now: the watcher's next poll retries; the change itself is committed.
        with suppress(StoreUnavailableError):
            await run_in_threadpool(state.reload_lists)
    return result


def lists_of(state: AppState) -> ListStore:
    if state.list_store is None:
        raise ApiError(503, "unavailable", "no list store is configured")
    return state.list_store


def keys_of(state: AppState) -> ApiKeyStore:
    if state.api_key_store is None:
        raise ApiError(503, "unavailable", "no API key store is configured")
    return state.api_key_store


def audit_of(state: AppState) -> AuditLog:
    if state.audit is None:
        raise ApiError(503, "unavailable", "no audit log is configured")
    return state.audit


def click_log_of(state: AppState) -> ClickLog:
    return state.recorder.store


def body_errors(exc: ValidationError, prefix: Sequence[str | int] = ("body",)) -> Exception:
    """Pydantic errors of a body validated by hand, as FastAPI reports its own (422)."""
    return RequestValidationError([{**e, "loc": (*prefix, *e["loc"])} for e in exc.errors(
        include_url=False, include_context=False, include_input=False)])


# --- list entries ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryFilter:
    action: str | None = None
    kind: str | None = None
    origin: str | None = None
    search: str = ""

    def __call__(self, stored: StoredEntry) -> bool:
        e = stored.entry
        if self.action and str(e.action) != self.action:
            return False
        if self.kind and str(e.kind) != self.kind:
            return False
        if self.origin and str(stored.origin) != self.origin:
            return False
        needle = self.search.strip().lower()
        return not needle or any(needle in text.lower() for text in (
            e.value, e.reason, e.owner, e.source))


def _page_after(entries: list[StoredEntry], cursor: str | None,
                limit: int) -> tuple[list[StoredEntry], str | None]:
    """Oldest id first; the cursor is the last id seen (ids only grow, so pages are stable
    under concurrent additions)."""
    if cursor is not None:
        if not cursor.isdigit():
            raise invalid(("query", "cursor"), "invalid cursor")
        entries = [s for s in entries if s.id > int(cursor)]
    page = entries[:limit]
    more = len(entries) > limit
    return page, str(page[-1].id) if more and page else None


@router.get("/lists", response_model=EntryPage, responses=_ERRORS, summary="List entries")
async def list_entries(
        request: Request, principal: ReadScope, *,
        action: Literal["allow", "block"] | None = None, kind: KindName | None = None,
        origin: Literal["file", "api"] | None = Query(None, alias="source"),
        search: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None) -> EntryPage:
    """Filters combine with AND; ``search`` looks in value, reason, owner and source."""
    del principal
    store = lists_of(app_state(request))
    everything = await call(store.entries)
    matching = [s for s in everything if EntryFilter(action, kind, origin, search)(s)]
    page, next_cursor = _page_after(matching, cursor, limit)
    return EntryPage(items=[entry_out(s) for s in page], next_cursor=next_cursor)


@router.post("/lists", status_code=201, response_model=EntryOut, responses=_ERRORS,
             summary="Add an entry")
async def add_entry(body: EntryIn, request: Request, principal: WriteScope) -> EntryOut:
    store = lists_of(app_state(request))
    return entry_out(await write(app_state(request), store.add, body.entry(),
                           actor=actor_of(principal)))


@router.get("/lists/export", responses={**_ERRORS, 200: {"content": {
    "application/json": {}, "application/yaml": {}}}}, summary="Export entries")
async def export_entries(request: Request, principal: ReadScope,
                         format: Literal["json", "yaml"] = "json",
                         origin: Literal["file", "api"] | None = Query(None, alias="source"),
                         ) -> Response:
    """JSON (what import reads back) or the YAML list-file format (allowlists/README.md)."""
    del principal
    state = app_state(request)
    wanted = ListSource(origin) if origin else None
    entries = await call(lists_of(state).entries, origin=wanted)
    if format == "yaml":
        return Response(export_list_file(s.entry for s in entries),
                        media_type="application/yaml",
                        headers={"content-disposition": 'attachment; filename="lists.yaml"'})
    rows = [entry_out(s).model_dump(mode="json") for s in entries]
    return JSONResponse(rows)


_IMPORT_ROWS = TypeAdapter(list[ImportEntry])


@router.post("/lists/import", response_model=ImportOut, responses=_ERRORS,
             summary="Import entries (JSON or YAML)", openapi_extra={"requestBody": {
                 "required": True, "content": {
                     "application/json": {"schema": {"type": "array", "items": {
                         "$ref": "#/components/schemas/ImportEntry"}}},
                     "application/yaml": {"schema": {"type": "string"}}}}})
async def import_entries(request: Request, principal: WriteScope,
                         replace: bool = False) -> ImportOut:
    """A JSON array of entries (an export reads back), or a list file (``version: 1``,
    ``allow:``, ``block:``) as ``application/yaml`` or ``text/plain``. All or nothing: one bad
    entry refuses the whole body. Entries become API entries (``origin: api``); ``replace=true``
    removes the API entries the body does not name. File entries are never touched."""
    entries = parse_import(await request.body(), request.headers.get("content-type", ""))
    store = lists_of(app_state(request))
    result: SyncResult = await write(app_state(request), store.import_entries, entries,
                                     actor=actor_of(principal), replace=replace)
    return ImportOut(added=result.added, updated=result.updated, removed=result.removed,
                     unchanged=result.unchanged, version=result.version)


def parse_import(raw: bytes, content_type: str) -> list[ListEntry]:
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", f"at most {MAX_IMPORT_BYTES} bytes per import")
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(("body",), f"not UTF-8 (byte {exc.start})") from None
    if media in YAML_TYPES:
        try:
            return parse_list_file(text, "body")
        except ListFileError as exc:
            raise ApiError(422, "invalid_request", [
                {"loc": ["body"], "line": p.line, "msg": p.message, "type": "list_file"}
                for p in exc.problems]) from None
    if media != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "send application/json (an array of entries) or application/yaml "
                       "(the list-file format)")
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(422, "invalid_request", [
            {"loc": ["body", exc.pos], "msg": f"not valid JSON: {exc.msg}",
             "type": "json_invalid"}]) from None
    try:
        return [row.entry() for row in _IMPORT_ROWS.validate_python(rows)]
    except ValidationError as exc:
        raise body_errors(exc) from None


@router.get("/lists/{entry_id}", response_model=EntryOut, responses=_ERRORS,
            summary="One entry")
async def get_entry(entry_id: RowId, request: Request, principal: ReadScope) -> EntryOut:
    del principal
    return entry_out(await call(lists_of(app_state(request)).get, entry_id))


@router.put("/lists/{entry_id}", response_model=EntryOut, responses=_ERRORS,
            summary="Replace an entry")
async def put_entry(entry_id: RowId, body: EntryIn, request: Request,
                    principal: WriteScope) -> EntryOut:
    """API entries only: file entries change in their files (``linkguard lists sync``)."""
    store = lists_of(app_state(request))
    return entry_out(await write(app_state(request), store.update, entry_id, body.entry(),
                                 actor=actor_of(principal)))


@router.patch("/lists/{entry_id}", response_model=EntryOut, responses=_ERRORS,
              summary="Change some fields of an entry")
async def patch_entry(entry_id: RowId, body: EntryPatch, request: Request,
                      principal: WriteScope) -> EntryOut:
    store = lists_of(app_state(request))
    current = entry_out(await call(store.get, entry_id))
    merged = {**current.model_dump(include=set(EntryIn.model_fields)),
              **body.model_dump(exclude_unset=True)}
    try:
        entry = EntryIn.model_validate(merged).entry()
    except ValidationError as exc:
        raise body_errors(exc) from None
    return entry_out(await write(app_state(request), store.update, entry_id, entry,
                                 actor=actor_of(principal)))


@router.delete("/lists/{entry_id}", response_model=EntryOut, responses=_ERRORS,
               summary="Remove an entry")
async def delete_entry(entry_id: RowId, request: Request, principal: WriteScope) -> EntryOut:
    store = lists_of(app_state(request))
    return entry_out(await write(app_state(request), store.delete, entry_id,
                                 actor=actor_of(principal)))


# --- API keys -------------------------------------------------------------------------------


@router.get("/api-keys", response_model=KeyList, responses=_ERRORS,
            summary="API keys (no secrets)")
async def list_keys(request: Request, principal: ReadScope) -> KeyList:
    """Keys made through this API or the CLI; keys configured in LINKGUARD_API_KEYS are not
    listed (only their digests are kept)."""
    del principal
    return KeyList(items=[key_out(k) for k in await call(keys_of(app_state(request)).list)])


@router.post("/api-keys", status_code=201, response_model=NewKeyOut, responses=_ERRORS,
             summary="Create an API key")
async def create_key(body: KeyIn, request: Request, principal: WriteScope) -> NewKeyOut:
    store = keys_of(app_state(request))
    key, secret = await call(store.create, body.name, [ApiScope(s) for s in body.scopes],
                             actor=actor_of(principal))
    return NewKeyOut(**key_out(key).model_dump(), secret=secret)


@router.delete("/api-keys/{key_id}", response_model=KeyOut, responses=_ERRORS,
               summary="Revoke an API key")
async def revoke_key(key_id: RowId, request: Request, principal: WriteScope) -> KeyOut:
    store = keys_of(app_state(request))
    return key_out(await call(store.revoke, key_id, actor=actor_of(principal)))


# --- policy ---------------------------------------------------------------------------------

PRECEDENCE = [
    "an admin block entry blocks, whatever else was seen (list.block)",
    "an admin allow entry allows (list.allow), except that a reputation-feed hit still gets "
    "allowlisted_feed_verdict",
    "otherwise the signals' scores (weight x strength) add up and the total is compared with "
    "the thresholds: block, then confirm, then warn",
]


@router.get("/policy", response_model=PolicyOut, responses=_ERRORS,
            summary="The effective policy (read-only)")
async def policy(request: Request, principal: ReadScope) -> PolicyOut:
    """What this replica judges with now: the policy file over the defaults, the enabled
    checks, and how many list entries the click path holds in memory."""
    del principal
    judge = app_state(request).gateway.judge
    return PolicyOut(thresholds=dict(judge.policy.thresholds),
                     weights=dict(sorted(judge.policy.weights.items())),
                     allowlisted_feed_verdict=str(judge.policy.allowlisted_feed_verdict),
                     precedence=PRECEDENCE, checks=[c.name for c in judge.checks],
                     list_entries=judge.catalog.lists.size,
                     access_requests=judge.policy.access_requests
                     and app_state(request).access is not None,
                     never_overridable=sorted(judge.policy.never_overridable))


# --- clicks ---------------------------------------------------------------------------------


def registrable(domain: str, loc: Sequence[str]) -> str:
    """The registrable domain of a typed host (``login.evil.example`` → ``evil.example``)."""
    host = host_to_ascii(domain.strip().rstrip("."))
    found = split_domain(host).registrable_domain if host else ""
    if not found:
        raise invalid(loc, f"{domain!r} has no registrable domain")
    return found


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None \
        else moment


@router.get("/clicks", response_model=ClickPageOut, responses=_ERRORS, summary="Click search")
async def clicks(request: Request, principal: ReadScope, *,
                 registrable_domain: str | None = None,
                 destination_prefix: Annotated[str | None, Query(max_length=2048)] = None,
                 recipient: str | None = None,
                 verdict: Literal["allow", "warn", "confirm", "block"] | None = None,
                 kind: ClickKind | None = None, action: ClickAction | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 cursor: str | None = None) -> ClickPageOut:
    """Newest first. Times are ISO 8601 (UTC when no offset is given); ``since`` is inclusive,
    ``until`` exclusive. Pass ``next_cursor`` back as ``cursor`` for the next page."""
    del principal
    query = ClickQuery(
        registrable_domain=registrable(registrable_domain, ("query", "registrable_domain"))
        if registrable_domain else None,
        destination_prefix=destination_prefix or None, recipient=recipient or None,
        verdict=verdict, kind=kind, action=action, since=aware(since), until=aware(until))
    log = click_log_of(app_state(request))
    page = await call(log.search, query, limit=limit, cursor=cursor, loc=("query", "cursor"))
    return ClickPageOut(items=[click_out(e) for e in page.events], next_cursor=page.next_cursor)


def hunt_rows(tallies: Sequence[ClickTally]) -> list[HuntRow]:
    """Per recipient: how often, when first and last, human or scanner, and whether they
    confirmed (identity-bound) or went on past a warning. Most clicks first."""
    by_recipient: dict[str, list[ClickTally]] = {}
    for tally in tallies:
        by_recipient.setdefault(tally.recipient, []).append(tally)
    rows = []
    for who, group in by_recipient.items():
        actions: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for tally in group:
            actions[str(tally.action)] += tally.count
            kinds[str(tally.kind)] += tally.count
        rows.append(HuntRow(recipient=who, clicks=sum(kinds.values()),
                            human=kinds[ClickKind.HUMAN], scanner=kinds[ClickKind.SCANNER],
                            first=min(t.first for t in group), last=max(t.last for t in group),
                            confirmed=actions[ClickAction.CONFIRMED] > 0,
                            continued=actions[ClickAction.CONTINUED] > 0,
                            approved=actions[ClickAction.APPROVED] > 0,
                            actions=dict(sorted(actions.items()))))
    return sorted(rows, key=lambda r: (-r.clicks, r.recipient))


@router.get("/clicks/hunt", response_model=HuntOut, responses=_ERRORS,
            summary="Who clicked links to a domain since a time, and who confirmed")
async def hunt(request: Request, principal: ReadScope, domain: str, since: datetime,
               until: datetime | None = None) -> HuntOut:
    """The retro-hunt: every click on links to ``domain`` (its registrable domain, so
    subdomains are included) since ``since``, per recipient, counted by the store in one
    grouped query. Recipient "" gathers links sealed without one."""
    del principal
    target = registrable(domain, ("query", "domain"))
    query = ClickQuery(registrable_domain=target, since=aware(since), until=aware(until))
    tallies = await run_in_threadpool(_hunt_tallies, click_log_of(app_state(request)), query)
    return HuntOut(domain=target, since=aware(since) or since, until=aware(until),
                   recipients=hunt_rows(tallies), events=sum(t.count for t in tallies),
                   truncated=False)


def _hunt_tallies(log: ClickLog, query: ClickQuery) -> list[ClickTally]:
    try:
        return log.tally(query)
    except StoreUnavailableError as exc:
        raise ApiError(503, "unavailable", str(exc), {"retry-after": "5"}) from None


# --- audit ----------------------------------------------------------------------------------


@router.get("/audit", response_model=AuditPage, responses=_ERRORS, summary="The audit log")
async def audit(request: Request, principal: ReadScope,
                object_type: str | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                cursor: str | None = None) -> AuditPage:
    """Newest first: list changes (before/after), key changes, confirmations."""
    del principal
    if cursor is not None and not cursor.isdigit():
        raise invalid(("query", "cursor"), "invalid cursor")
    log = audit_of(app_state(request))
    found: list[AuditEvent] = await call(log.recent, limit=limit + 1,
                                         before_id=int(cursor) if cursor else None,
                                         object_type=object_type)
    page = found[:limit]
    return AuditPage(items=[AuditOut(id=e.id, at=e.at, actor=e.actor, action=e.action,
                                     object_type=e.object_type, object_id=e.object_id,
                                     before=e.before, after=e.after) for e in page],
                     next_cursor=str(page[-1].id) if len(found) > limit and page else None)


# === the admin page =========================================================================

ADMIN_CSRF_COOKIE = "lg_admin_csrf"
OIDC_DONE = "/admin/sign-in/oidc"
_ALL_SCOPES = [ApiScope.ADMIN_READ.value, ApiScope.ADMIN_WRITE.value]


@dataclass(frozen=True, slots=True)
class Admin:
    """Who is signed in to the page."""

    who: str  # the audit actor: "api-key:ops", "oidc:alice@corp.example"
    scopes: frozenset[str]
    key_id: int | None = None  # a key-store key: checked on every request (revocation)

    @property
    def can_write(self) -> bool:
        return ApiScope.ADMIN_WRITE.value in self.scopes


def _csrf_secret(state: AppState) -> bytes:
    # Its own key: a confirmation or Continue form's field is never an admin form's.
    return hmac.new(state.csrf_secret, b"linkguard.admin-csrf", hashlib.sha256).digest()


class _PageContext:
    """The CSRF cookie and field for one page answer."""

    def __init__(self, state: AppState, request: Request) -> None:
        self.state, self.request = state, request
        self.cookie = request.cookies.get(ADMIN_CSRF_COOKIE) or new_csrf_cookie()
        self.csrf = csrf_field(_csrf_secret(state), self.cookie, "admin")

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        response = render(self.state, template, status=status, csrf=self.csrf, **context)
        if self.request.cookies.get(ADMIN_CSRF_COOKIE) != self.cookie:
            response.set_cookie(ADMIN_CSRF_COOKIE, self.cookie, max_age=8 * 3600,
                                path="/admin", secure=self.state.https, httponly=True,
                                samesite="strict")
        return response


async def _form(state: AppState, request: Request) -> dict[str, str] | None:
    """The posted form's text fields when its CSRF field and origin check out, else None."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not same_origin(request, state.base_url) or not csrf_ok(
            _csrf_secret(state), request.cookies.get(ADMIN_CSRF_COOKIE),
            values.get("csrf"), "admin"):
        return None
    return values


async def _signed_in(state: AppState, request: Request) -> Admin | None:
    parts = state.admin
    if parts is None:
        return None
    value = parts.sessions.loads(request.cookies.get(parts.cookie.key))
    if value is None:
        return None
    who, scopes, key_id = value.get("who"), value.get("scopes"), value.get("key")
    if not isinstance(who, str) or not isinstance(scopes, list) or not (
            key_id is None or isinstance(key_id, int)):
        return None
    if key_id is not None:
        # A revoked key ends its sessions at once, not when the cookie expires.
        store = state.api_key_store
        try:
            live = store is not None and any(
                k.id == key_id and k.revoked is None for k in await run_in_threadpool(store.list))
        except StoreUnavailableError:
            live = False
        if not live:
            return None
    return Admin(who, frozenset(s for s in scopes if isinstance(s, str)), key_id)


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _start_session(parts: AdminParts, admin: Admin, target: str = "/admin/lists") -> Response:
    response = _see_other(target)
    _set_session(response, parts, admin)
    return response


def _set_session(response: Response, parts: AdminParts, admin: Admin) -> None:
    value = parts.sessions.dumps({"who": admin.who, "scopes": sorted(admin.scopes),
                                  "key": admin.key_id, "sid": secrets.token_urlsafe(9)})
    response.set_cookie(value=value, **parts.cookie.as_kwargs())


def _not_set_up(state: AppState) -> Response:
    return render(state, "error.html", status=404, heading="Administration is not set up",
                  message="The admin page needs a session secret (LINKGUARD_SESSION_SECRET).")


def _oidc_ready(state: AppState) -> bool:
    return bool(state.admin and state.admin.group and state.identity and state.identity.oidc)


@pages.get("/admin")
async def admin_home(request: Request) -> Response:
    del request
    return _see_other("/admin/lists")


@pages.get("/admin/sign-in")
async def sign_in_form(request: Request) -> Response:
    state = app_state(request)
    if state.admin is None:
        return _not_set_up(state)
    return _PageContext(state, request).render("admin_sign_in.html", oidc=_oidc_ready(state))


@pages.post("/admin/sign-in")
async def sign_in(request: Request) -> Response:
    state = app_state(request)
    parts = state.admin
    if parts is None:
        return _not_set_up(state)
    page = _PageContext(state, request)
    form = await _form(state, request)
    if form is None:
        return page.render("admin_sign_in.html", status=403, oidc=_oidc_ready(state),
                           error="This form has expired. Please try again.")
    try:
        principal = await run_in_threadpool(verify_key, state, form.get("key", "").strip())
    except ApiError:
        principal = None
    if principal is None or ApiScope.ADMIN_READ.value not in principal.scopes:
        return page.render("admin_sign_in.html", status=401, oidc=_oidc_ready(state),
                           error="That key is unknown, revoked, or not an admin key.")
    key_id = int(principal.name.split(" ", 1)[0]) if state.api_keys.verify(
        form["key"].strip()) is None else None
    return _start_session(parts, Admin(actor_of(principal), principal.scopes, key_id))


@pages.get("/admin/sign-in/start")
async def sign_in_oidc_start(request: Request) -> Response:
    state = app_state(request)
    if not _oidc_ready(state) or state.identity is None or state.identity.oidc is None:
        return _not_set_up(state)
    # The gateway's one OIDC callback (/auth/callback) signs the person in and comes back here.
    started = await state.identity.oidc.begin(
        state.base_url.rstrip("/") + "/auth/callback", return_to=OIDC_DONE)
    if isinstance(started, Failure):
        return render(state, "error.html", status=502, heading="Sign-in is unavailable",
                      message="The identity provider could not be reached. Try again later.")
    response = _see_other(started.url)
    response.set_cookie(value=started.pending, **state.identity.pending_cookie.as_kwargs())
    return response


@pages.get(OIDC_DONE)
async def sign_in_oidc_done(request: Request) -> Response:
    state = app_state(request)
    parts, identity_parts = state.admin, state.identity
    if parts is None or identity_parts is None or not _oidc_ready(state):
        return _not_set_up(state)
    identity = identity_parts.sessions.loads(
        request.cookies.get(identity_parts.session_cookie.key))
    if identity is None:
        return _see_other("/admin/sign-in")
    if parts.group not in identity.groups:
        return render(state, "error.html", status=403, heading="Not an administrator",
                      message=f"{identity.email} is signed in, but is not in the admin group.")
    # A page, not a redirect: this answer ends a navigation that began at the IdP, and a
    # SameSite=Strict cookie is not sent on the rest of a cross-site redirect chain.
    response = render(state, "admin_signed_in.html", who=identity.email)
    _set_session(response, parts, Admin(f"oidc:{identity.email}", frozenset(_ALL_SCOPES)))
    return response


@pages.post("/admin/sign-out")
async def sign_out(request: Request) -> Response:
    state = app_state(request)
    if state.admin is None:
        return _not_set_up(state)
    response = _see_other("/admin/sign-in")
    if await _form(state, request) is not None:
        params = state.admin.cookie.as_kwargs()
        response.delete_cookie(params["key"], path=params["path"], secure=params["secure"],
                               httponly=params["httponly"], samesite=params["samesite"])
    return response


async def _admin_or_redirect(state: AppState, request: Request) -> Admin | Response:
    if state.admin is None:
        return _not_set_up(state)
    admin = await _signed_in(state, request)
    return admin if admin is not None else _see_other("/admin/sign-in")


_MESSAGES = {"added": "Entry added.", "updated": "Entry saved.", "deleted": "Entry removed."}


@pages.get("/admin/lists")
async def lists_page(request: Request) -> Response:
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    return await _lists_page(state, request, admin)


async def _lists_page(state: AppState, request: Request, admin: Admin, *, status: int = 200,
                      error: str | None = None, form: dict[str, str] | None = None) -> Response:
    q = request.query_params
    chosen = EntryFilter(action=q.get("action") or None, kind=q.get("kind") or None,
                         origin=q.get("source") or None, search=q.get("q", ""))
    try:
        everything = await call(lists_of(state).entries)
    except ApiError as exc:
        return render(state, "error.html", status=exc.status, heading="Lists unavailable",
                      message=str(exc.detail))
    shown = [s for s in everything if chosen(s)]
    return _PageContext(state, request).render(
        "admin_lists.html", status=status, admin=admin, section="lists", filters=chosen,
        entries=[entry_out(s) for s in reversed(shown[-500:])], total=len(shown),
        error=error, form=form or {}, message=_MESSAGES.get(q.get("done", "")))


def _entry_from_form(form: dict[str, str]) -> EntryIn | str:
    """The entry a page form describes, or a message saying what is wrong."""
    expires = form.get("expires", "").strip()
    try:
        return EntryIn.model_validate({
            "action": form.get("action", ""), "kind": form.get("kind", ""),
            "value": form.get("value", ""), "reason": form.get("reason", "").strip(),
            "owner": form.get("owner", "").strip(), "expires": expires or None})
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


async def _write_form(state: AppState, request: Request) -> tuple[Admin, dict[str, str]] | Response:
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    form = await _form(state, request)
    if form is None:
        return await _lists_page(state, request, admin, status=403,
                                 error="This form has expired. Please try again.")
    if not admin.can_write:
        return await _lists_page(state, request, admin, status=403,
                                 error="Your key may read but not change the lists.")
    return admin, form


@pages.post("/admin/lists")
async def add_from_page(request: Request) -> Response:
    state = app_state(request)
    checked = await _write_form(state, request)
    if isinstance(checked, Response):
        return checked
    admin, form = checked
    entry = _entry_from_form(form)
    if isinstance(entry, str):
        return await _lists_page(state, request, admin, status=422, error=entry, form=form)
    try:
        await write(state, lists_of(state).add, entry.entry(), actor=admin.who)
    except ApiError as exc:
        return await _lists_page(state, request, admin, status=exc.status, form=form,
                                 error=str(exc.detail))
    return _see_other("/admin/lists?done=added")


@pages.get("/admin/lists/{entry_id}")
async def edit_page(entry_id: RowId, request: Request) -> Response:
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    try:
        stored = entry_out(await call(lists_of(state).get, entry_id))
    except ApiError as exc:
        return render(state, "error.html", status=exc.status, heading="No such entry",
                      message=str(exc.detail))
    return _PageContext(state, request).render("admin_edit.html", admin=admin, section="lists",
                                               entry=stored, error=None)


@pages.post("/admin/lists/{entry_id}")
async def edit_from_page(entry_id: RowId, request: Request) -> Response:
    state = app_state(request)
    checked = await _write_form(state, request)
    if isinstance(checked, Response):
        return checked
    admin, form = checked
    entry = _entry_from_form(form)
    try:
        if isinstance(entry, str):
            raise invalid(("body",), entry)
        await write(state, lists_of(state).update, entry_id, entry.entry(), actor=admin.who)
    except ApiError as exc:
        stored = None
        try:
            stored = entry_out(await call(lists_of(state).get, entry_id))
        except ApiError:
            return _see_other("/admin/lists")
        detail = exc.detail[0]["msg"] if isinstance(exc.detail, list) else str(exc.detail)
        return _PageContext(state, request).render(
            "admin_edit.html", status=exc.status, admin=admin, section="lists", entry=stored,
            error=detail)
    return _see_other("/admin/lists?done=updated")


@pages.post("/admin/lists/{entry_id}/delete")
async def delete_from_page(entry_id: RowId, request: Request) -> Response:
    state = app_state(request)
    checked = await _write_form(state, request)
    if isinstance(checked, Response):
        return checked
    admin, _ = checked
    try:
        await write(state, lists_of(state).delete, entry_id, actor=admin.who)
    except ApiError as exc:
        return await _lists_page(state, request, admin, status=exc.status,
                                 error=str(exc.detail))
    return _see_other("/admin/lists?done=deleted")


@pages.get("/admin/clicks")
async def clicks_page(request: Request) -> Response:
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    q = request.query_params
    filters = {name: q.get(name, "").strip() for name in (
        "domain", "recipient", "verdict", "kind", "since")}
    error = None
    events: list[ClickOut] = []
    next_url = None
    try:
        query = ClickQuery(
            registrable_domain=registrable(filters["domain"], ("query", "domain"))
            if filters["domain"] else None,
            recipient=filters["recipient"] or None, verdict=filters["verdict"] or None,
            kind=ClickKind(filters["kind"]) if filters["kind"] else None,
            since=aware(datetime.fromisoformat(filters["since"])) if filters["since"] else None)
        page = await call(click_log_of(state).search, query, limit=50,
                          cursor=q.get("cursor") or None)
        events = [click_out(e) for e in page.events]
        if page.next_cursor:
            next_url = "/admin/clicks?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor})
    except ApiError as exc:
        error = exc.detail[0]["msg"] if isinstance(exc.detail, list) else str(exc.detail)
    except ValueError as exc:
        error = str(exc)
    return _PageContext(state, request).render(
        "admin_clicks.html", status=422 if error else 200, admin=admin, section="clicks",
        filters=filters, events=events, next_url=next_url, error=error)


@pages.get("/admin/test")
async def tester_page(request: Request) -> Response:
    """The verdict tester: what the gateway would do with a link now, and why. A GET with no
    side effects: nothing is logged as a click."""
    state = app_state(request)
    admin = await _admin_or_redirect(state, request)
    if isinstance(admin, Response):
        return admin
    q = request.query_params
    url, display_text = q.get("url", "").strip(), q.get("display_text", "").strip()
    result = None
    if url:
        decision = await state.gateway.decide(url[:16_384], LinkContext(
            display_text=display_text or None, recipient=q.get("recipient") or None))
        result = {"verdict": str(decision.verdict), "score": round(decision.score, 1),
                  "normalized": decision.url.href if decision.url else None,
                  "reasons": [reason_view(r) for r in decision.reasons]}
    return _PageContext(state, request).render(
        "admin_test.html", admin=admin, section="test", url=url, display_text=display_text,
        recipient=q.get("recipient", ""), result=result)
