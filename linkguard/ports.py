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


class ClickLog(Protocol):
    def write_batch(self, events: Sequence[ClickEvent]) -> None:
        """Store the events; raises on failure so the caller can retry or count the loss."""

    def search(self, query: ClickQuery, *, limit: int = 100,
               cursor: str | None = None) -> ClickPage:
        """Newest first, cursor-paginated."""

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
