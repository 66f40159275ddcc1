"""Protocols the service needs from the outside world; adapters implement them.

Storage ports are synchronous: the SQL stores run on SQLAlchemy's synchronous engine and the
web layer calls them from a worker thread (or, for the click log, from its own flusher thread).
The facts port is asynchronous because its work is network I/O bounded by a per-click budget.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from linkguard.core.lists import ListEntry
from linkguard.core.model import Facts
from linkguard.core.url import ParsedUrl

# --- click log ------------------------------------------------------------------------------


class ClickKind(enum.StrEnum):
    HUMAN = "human"
    SCANNER = "scanner"  # HEAD, link previews, mail scanners: same answer, no side effects


class ClickAction(enum.StrEnum):
    """What the gateway did with the request."""

    REDIRECT = "redirect"  # allow: 303 to the destination
    WARNED = "warned"  # warn: interstitial shown
    CONTINUED = "continued"  # warn: the person chose Continue (POST with CSRF)
    CONFIRM_REQUIRED = "confirm_required"  # confirm: sign-in page shown
    CONFIRMED = "confirmed"  # confirm: identity-bound confirmation accepted
    REFUSED = "refused"  # confirm: refused (identity mismatch, replay, …)
    BLOCKED = "blocked"  # block page shown
    APPROVED = "approved"  # block overridden: an admin approved this link's access request
    ACCESS_REQUESTED = "access_requested"  # block: the person asked for access
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - forged / truncated / unknown key
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - older than policy allows


@dataclass(frozen=True, slots=True)
class ClickEvent:
    """One entry of the click log. ``client_ip`` is already full, truncated or hashed."""

    at: datetime  # timezone-aware UTC
    kind: ClickKind
    action: ClickAction
    token_id: str = ""
    message_id: str = ""
    recipient: str = ""
    destination: str = ""
    registrable_domain: str = ""
    verdict: str = ""  # allow | warn | confirm | block, or "" when no verdict was reached
    score: float = 0.0
    reasons: tuple[str, ...] = ()  # reason codes
    client_ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class ClickQuery:
    """Click search filters; every field is optional and they combine with AND."""

    registrable_domain: str | None = None
    destination_prefix: str | None = None
    recipient: str | None = None
    verdict: str | None = None
    kind: ClickKind | None = None
    action: ClickAction | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClickPage:
    events: tuple[ClickEvent, ...]
    next_cursor: str | None = None  # opaque; pass back to get the next page


@dataclass(frozen=True, slots=True)
class ClickTally:
    """Clicks of one recipient (lower-cased), of one kind, with one action, and when."""

    recipient: str
    kind: ClickKind
    action: ClickAction
    count: int
    first: datetime
    last: datetime


class ClickLog(Protocol):
    def write_batch(self, events: Sequence[ClickEvent]) -> None:
        """Store the events; raises on failure so the caller can retry or count the loss."""

    def search(self, query: ClickQuery, *, limit: int = 100,
               cursor: str | None = None) -> ClickPage:
        """Newest first, cursor-paginated."""

    def tally(self, query: ClickQuery) -> list[ClickTally]:
        """Every matching click counted by recipient, kind and action, in one grouped pass
        (the retro-hunt: "who clicked links to this domain since Monday, and who confirmed")."""

    def prune(self, before: datetime, *, batch: int = 10_000) -> int:
        """Delete the clicks older than ``before`` (retention), ``batch`` rows per transaction
        so a large delete never holds the table for long; the number deleted."""

    def ping(self) -> None:
        """Raise when the store cannot be reached (readiness)."""


# --- one-time nonces and rate limits --------------------------------------------------------


class StoreUnavailableError(RuntimeError):
    """A shared store could not be reached. Callers of one-time operations fail closed."""


class NonceStore(Protocol):
    def issue(self, nonce: str, subject: str, ttl_s: float) -> None:
        """Remember ``nonce`` as belonging to ``subject`` for ``ttl_s`` seconds."""

    def consume(self, nonce: str, subject: str) -> bool:
        """True exactly once for a live nonce of this subject (atomically, across replicas).

        False for unknown, expired, already used or another subject's nonce. Raises
        StoreUnavailableError when the store cannot answer: never a silent True.
        """

    def ping(self) -> None: ...


class RateLimiter(Protocol):
    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        """Count one request for ``key``; None when allowed, else seconds until allowed again."""


# --- facts from outside (RDAP, feeds, redirect chains) --------------------------------------


class FactsSource(Protocol):
    async def gather(self, url: ParsedUrl, *, budget_s: float) -> Facts:
        """Facts about the URL within ``budget_s`` seconds; what is not known in time is
        reported as unknown in the Facts, never raised."""

    def prefetch(self, urls: Iterable[ParsedUrl]) -> None:
        """Warm caches for links just rewritten (fire and forget; never blocks mail)."""


@dataclass(frozen=True, slots=True)
class Health:
    name: str
    ok: bool
    detail: str = ""
    degraded: bool = False  # serving on local state (e.g. Redis down), not failed
    extra: dict[str, str] = field(default_factory=dict)


# --- admin stores (lists, API keys, audit) and caches ---------------------------------------
# Admin-side ports: the click path never calls these (it reads an in-memory ListIndex that
# ListWatcher-style propagation rebuilds); the admin API, CLI and gateway start-up do.


class ListSource(enum.StrEnum):
    FILE = "file"  # managed by `linkguard lists sync`: the files in git are the truth
    API = "api"  # made through the admin API or CLI; never touched by a sync


@dataclass(frozen=True, slots=True)
class StoredEntry:
    id: int
    entry: ListEntry  # entry.source is "file.yaml:12" for files, "api" otherwise
    origin: ListSource
    created: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class SyncResult:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    version: int = 0  # the list version after the sync


class EntryNotFoundError(LookupError):
    """No list entry (or API key) with that id: a 404 for the admin API."""


class DuplicateEntryError(ValueError):
    """An entry with the same action, kind and value exists already: a 409 for the admin API."""


class ListStore(Protocol):
    def entries(self, *, origin: ListSource | None = None) -> list[StoredEntry]:
        """Every entry (expired ones too: the index skips them by time), oldest id first."""

    def get(self, entry_id: int) -> StoredEntry:
        """Raises EntryNotFoundError."""

    def add(self, entry: ListEntry, *, actor: str) -> StoredEntry:
        """An API entry; raises DuplicateEntryError. Audited; bumps the version."""

    def update(self, entry_id: int, entry: ListEntry, *, actor: str) -> StoredEntry:
        """Replace an API entry's fields. File entries change only through their files:
        raises ValueError for them, EntryNotFoundError for an unknown id."""

    def delete(self, entry_id: int, *, actor: str) -> StoredEntry:
        """Remove an API entry and return what it was (same errors as update)."""

    def import_entries(self, entries: Sequence[ListEntry], *, actor: str,
                       replace: bool = False) -> SyncResult:
        """Bulk import as API entries in one transaction: new ones added, existing ones updated
        (``replace``: API entries not in ``entries`` are removed)."""

    def sync(self, entries_from_files: Sequence[ListEntry], *, actor: str) -> SyncResult:
        """Make the file entries exactly ``entries_from_files``; idempotent, audited."""

    def version(self) -> int:
        """A counter bumped by every change; replicas poll it to know when to reload."""

    def ping(self) -> None: ...


class ApiScope(enum.StrEnum):
    VERDICT = "verdict"
    ADMIN_READ = "admin:read"
    ADMIN_WRITE = "admin:write"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str  # the first characters of the secret, for telling keys apart in listings
    scopes: frozenset[ApiScope]
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None


class ApiKeyStore(Protocol):
    def create(self, name: str, scopes: Iterable[ApiScope], *,
               actor: str) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is shown this once and only its hash is kept."""

    def verify(self, secret: str) -> ApiKey | None:
        """The live (not revoked) key with this secret, or None."""

    def list(self) -> list[ApiKey]: ...

    def revoke(self, key_id: int, *, actor: str) -> ApiKey:
        """Raises EntryNotFoundError; revoking twice keeps the first time."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str  # "api-key:3 ops", "oidc:alice@example.com", "cli:root", "files"
    action: str  # "list.add", "list.sync.remove", "apikey.revoke", "click.confirm", …
    object_type: str  # "list_entry", "api_key", "click", …
    object_id: str = ""
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    id: int = 0  # assigned by the store


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def recent(self, *, limit: int = 100, before_id: int | None = None,
               object_type: str | None = None) -> list[AuditEvent]:
        """Newest first; ``before_id`` pages further back."""


class Cache(Protocol):
    """Bytes by key with a time to live (verdict and RDAP caches). Never raises on a lost
    backend: a cache miss is always an acceptable answer."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def health(self) -> Health: ...


# --- access requests: out-of-band approval of blocked links ---------------------------------
# A person who got a block page for a link whose block the policy lets admins override asks
# for access with a reason; an admin approves (for a limited time) or denies; the person's
# next click on that link passes, or shows the denial. One link (token id) at a time.


class AccessStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class NewAccessRequest:
    """What the person asked for, and who they proved to be."""

    token_id: str  # the link: an approval lets exactly this link through
    requester: str  # the e-mail address the person signed in with (bound to the recipient)
    method: str  # how they signed in: "oidc" | "mailcode"
    justification: str  # their reason, as typed (trimmed, at most 1,000 characters)
    recipient: str = ""  # the link's recipient as sealed
    message_id: str = ""
    destination: str = ""
    registrable_domain: str = ""
    verdict: str = "block"
    reasons: tuple[str, ...] = ()
    client_ip: str = ""  # already full, truncated or hashed, as in the click log
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: int
    request: NewAccessRequest
    status: AccessStatus
    created: datetime
    decided: datetime | None = None
    decided_by: str = ""  # the admin (audit actor) who approved or denied
    note: str = ""  # the admin's note, shown to the person
    expires: datetime | None = None  # an approval lets the link through until then

    def lets_through(self, now: datetime) -> bool:
        return (self.status is AccessStatus.APPROVED and self.expires is not None
                and now < self.expires)

    def summary(self) -> dict[str, object]:
        """The audit log's before/after view."""
        return {"status": str(self.status), "token_id": self.request.token_id,
                "requester": self.request.requester, "destination": self.request.destination,
                "justification": self.request.justification, "decided_by": self.decided_by,
                "note": self.note,
                "expires": self.expires.isoformat() if self.expires else None}

    def is_open(self, now: datetime) -> bool:
        """Pending, a live approval, or a denial: a new request for the link is not taken.
        Only an approval that has run out makes room for a new one."""
        return self.status is not AccessStatus.APPROVED or self.lets_through(now)


class AlreadyDecidedError(RuntimeError):
    """The access request was approved or denied already: a 409 for the admin API."""


@dataclass(frozen=True, slots=True)
class AccessPage:
    items: tuple[AccessRequest, ...]
    next_cursor: str | None = None


def id_cursor(cursor: str | None) -> int | None:
    """Access-request pages continue below an id; anything else is a ValueError."""
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise ValueError("invalid cursor")
    return int(cursor)


class AccessRequestStore(Protocol):
    def create(self, new: NewAccessRequest) -> AccessRequest:
        """A pending request; audited (``access.request``, actor the requester). Raises
        DuplicateEntryError while the link has an open request (see ``is_open``)."""

    def get(self, request_id: int) -> AccessRequest:
        """Raises EntryNotFoundError."""

    def for_link(self, token_id: str) -> AccessRequest | None:
        """The newest request for this link, or None (the click path asks this)."""

    def search(self, *, status: AccessStatus | None = None, requester: str | None = None,
               limit: int = 100, cursor: str | None = None) -> AccessPage:
        """Newest first, cursor-paginated (a bad cursor is a ValueError)."""

    def decide(self, request_id: int, *, approve: bool, actor: str, note: str = "",
               expires: datetime | None = None) -> AccessRequest:
        """Approve (until ``expires``, required) or deny a pending request, once: of two
        admins deciding at the same time exactly one wins, the other gets
        AlreadyDecidedError. Audited (``access.approve`` / ``access.deny``, before and
        after). EntryNotFoundError for an unknown id."""

    def ping(self) -> None: ...
