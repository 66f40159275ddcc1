"""In-process stores: the embedded default for rate limits, and stand-ins for one process.

Each implements a protocol of :mod:`linkguard.ports` and passes the same contract tests as the
SQL and Redis stores. Thread-safe: the web layer calls them from worker threads.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from linkguard.audit import AuditEvent, AuditLog
from linkguard.ports import (
    AccessPage,
    AccessRequest,
    AccessStatus,
    AlreadyDecidedError,
    ClickAction,
    ClickEvent,
    ClickKind,
    ClickPage,
    ClickQuery,
    ClickTally,
    DuplicateEntryError,
    EntryNotFoundError,
    NewAccessRequest,
    id_cursor,
)


class MemoryClickLog:
    """Click events in a list, for one process and for tests. Bounded: oldest dropped first."""

    def __init__(self, *, max_events: int = 100_000) -> None:
        self._events: list[ClickEvent] = []
        self._max = max_events
        self._lock = threading.Lock()

    def write_batch(self, events: Sequence[ClickEvent]) -> None:
        with self._lock:
            self._events.extend(events)
            overflow = len(self._events) - self._max
            if overflow > 0:
                del self._events[:overflow]

    def search(self, query: ClickQuery, *, limit: int = 100,
               cursor: str | None = None) -> ClickPage:
        """Newest first by time (insertion order breaks ties), as the SQL store answers."""
        with self._lock:
            indexed = list(enumerate(self._events))
        ordered = sorted(indexed, key=lambda item: (item[1].at, item[0]), reverse=True)
        after = _decode_cursor(cursor) if cursor is not None else None
        found: list[tuple[int, ClickEvent]] = []
        for position, event in ordered:
            if after is not None and (event.at, position) >= after:
                continue
            if _matches(event, query):
                found.append((position, event))
                if len(found) > limit:
                    break
        page = found[:limit]
        more = len(found) > limit
        next_cursor = _encode_cursor(page[-1][1].at, page[-1][0]) if more and page else None
        return ClickPage(tuple(event for _, event in page), next_cursor)

    def tally(self, query: ClickQuery) -> list[ClickTally]:
        with self._lock:
            events = list(self._events)
        groups: dict[tuple[str, ClickKind, ClickAction], ClickTally] = {}
        for event in events:
            if not _matches(event, query):
                continue
            key = (event.recipient.lower(), event.kind, event.action)
            seen = groups.get(key)
            groups[key] = ClickTally(*key, 1, event.at, event.at) if seen is None else \
                ClickTally(*key, seen.count + 1, min(seen.first, event.at),
                           max(seen.last, event.at))
        return list(groups.values())

    def prune(self, before: datetime, *, batch: int = 10_000) -> int:
        if before.tzinfo is None:
            raise ValueError("prune needs a timezone-aware UTC time")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        with self._lock:
            kept = [e for e in self._events if e.at >= before]
            deleted = len(self._events) - len(kept)
            self._events = kept
        return deleted

    def ping(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._events)


def _matches(event: ClickEvent, query: ClickQuery) -> bool:
    checks = (
        query.registrable_domain is None
        or event.registrable_domain == query.registrable_domain.lower(),
        query.destination_prefix is None or event.destination.startswith(query.destination_prefix),
        query.recipient is None or event.recipient.lower() == query.recipient.lower(),
        query.verdict is None or event.verdict == query.verdict,
        query.kind is None or event.kind == query.kind,
        query.action is None or event.action == query.action,
        query.since is None or event.at >= query.since,
        query.until is None or event.at < query.until,
    )
    return all(checks)


def _encode_cursor(at: datetime, position: int) -> str:
    text = f"m|{at.isoformat()}|{position}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, stamp, position = text.split("|")
        if tag != "m":
            raise ValueError(cursor)
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError(cursor)
        return at, int(position)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError("invalid cursor") from None


class MemoryNonceStore:
    """One-time nonces for a single process (a replica set needs the SQL or Redis store)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 max_nonces: int = 100_000) -> None:
        self._clock = clock
        self._nonces: dict[str, tuple[str, float]] = {}
        self._max = max_nonces
        self._lock = threading.Lock()

    def issue(self, nonce: str, subject: str, ttl_s: float) -> None:
        if not nonce or ttl_s <= 0:
            raise ValueError("a nonce needs a value and a positive lifetime")
        with self._lock:
            now = self._clock()
            if len(self._nonces) >= self._max:
                self._nonces = {k: v for k, v in self._nonces.items() if v[1] > now}
            live = self._nonces.get(nonce)
            if live is not None and live[1] > now:
                # A second issue would hand someone else's confirmation to a new subject.
                raise ValueError("nonce already issued")
            self._nonces[nonce] = (subject, now + ttl_s)

    def consume(self, nonce: str, subject: str) -> bool:
        with self._lock:
            entry = self._nonces.get(nonce)
            if entry is None or entry[0] != subject:
                return False
            del self._nonces[nonce]
            return entry[1] > self._clock()

    def ping(self) -> None:
        return None


class MemoryRateLimiter:
    """Fixed-window counters per key, the same scheme as the Redis limiter (so a replica that
    falls back to it while Redis is down limits the same way, just not shared).

    When ``max_keys`` is reached, keys whose window has ended are dropped (and, if a flood of
    distinct clients leaves none, the oldest half), so memory stays bounded.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 200_000) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, float], list[float]] = {}  # -> [window end, count]
        self._max = max_keys
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        now = self._clock()
        slot = (key, window_s)
        with self._lock:
            state = self._windows.get(slot)
            if state is None or state[0] <= now:
                if state is None and len(self._windows) >= self._max:
                    self._prune(now)
                state = [(now // window_s + 1) * window_s, 0.0]
                self._windows[slot] = state
            if state[1] < limit:
                state[1] += 1
                return None
            return max(state[0] - now, 0.001)

    def _prune(self, now: float) -> None:
        ended = [k for k, v in self._windows.items() if v[0] <= now]
        if len(ended) < len(self._windows) // 10:
            ended = list(self._windows)[: len(self._windows) // 2]  # oldest inserted first
        for k in ended:
            del self._windows[k]


class MemoryAuditLog:
    """Audit events in a list, for one process and for tests. Bounded: oldest dropped first
    (a deployment that must keep every event uses the SQL audit log)."""

    def __init__(self, *, max_events: int = 100_000) -> None:
        self._events: list[AuditEvent] = []
        self._max = max_events
        self._next_id = 1
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        with self._lock:
            self._events.append(replace(event, id=self._next_id))
            self._next_id += 1
            overflow = len(self._events) - self._max
            if overflow > 0:
                del self._events[:overflow]

    def recent(self, *, limit: int = 100, before_id: int | None = None,
               object_type: str | None = None) -> list[AuditEvent]:
        with self._lock:
            events = list(self._events)
        found = [e for e in reversed(events)
                 if (before_id is None or e.id < before_id)
                 and (object_type is None or e.object_type == object_type)]
        return found[:limit]


class MemoryAccessRequests:
    """Access requests for one process and for tests; audits into ``audit`` when given."""

    def __init__(self, *, audit: AuditLog | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._requests: dict[int, AccessRequest] = {}
        self._audit = audit
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def create(self, new: NewAccessRequest) -> AccessRequest:
        with self._lock:
            now = self._clock()
            latest = self._latest(new.token_id)
            if latest is not None and latest.is_open(now):
                raise DuplicateEntryError(
                    f"link {new.token_id} has an access request already ({latest.status})")
            created = AccessRequest(id=len(self._requests) + 1, request=new,
                                    status=AccessStatus.PENDING, created=now)
            self._requests[created.id] = created
            self._record(now, f"{new.method}:{new.requester}", "access.request", created, None)
            return created

    def get(self, request_id: int) -> AccessRequest:
        with self._lock:
            found = self._requests.get(request_id)
        if found is None:
            raise EntryNotFoundError(f"no access request {request_id}")
        return found

    def for_link(self, token_id: str) -> AccessRequest | None:
        with self._lock:
            return self._latest(token_id)

    def search(self, *, status: AccessStatus | None = None, requester: str | None = None,
               limit: int = 100, cursor: str | None = None) -> AccessPage:
        before = id_cursor(cursor)
        with self._lock:
            found = [r for r in sorted(self._requests.values(), key=lambda r: -r.id)
                     if (before is None or r.id < before)
                     and (status is None or r.status is status)
                     and (requester is None
                          or r.request.requester.lower() == requester.strip().lower())]
        page = tuple(found[:limit])
        return AccessPage(page, str(page[-1].id) if len(found) > limit else None)

    def decide(self, request_id: int, *, approve: bool, actor: str, note: str = "",
               expires: datetime | None = None) -> AccessRequest:
        if approve and expires is None:
            raise ValueError("an approval needs an expiry")
        with self._lock:
            current = self._requests.get(request_id)
            if current is None:
                raise EntryNotFoundError(f"no access request {request_id}")
            if current.status is not AccessStatus.PENDING:
                raise AlreadyDecidedError(
                    f"access request {request_id} was {current.status} already")
            now = self._clock()
            decided = replace(current, decided=now, decided_by=actor, note=note,
                              status=AccessStatus.APPROVED if approve else AccessStatus.DENIED,
                              expires=expires if approve else None)
            self._requests[request_id] = decided
            self._record(now, actor, "access.approve" if approve else "access.deny", decided,
                         current)
            return decided

    def ping(self) -> None:
        return None

    def _latest(self, token_id: str) -> AccessRequest | None:
        mine = [r for r in self._requests.values() if r.request.token_id == token_id]
        return max(mine, key=lambda r: r.id) if mine else None

    def _record(self, at: datetime, actor: str, action: str, after: AccessRequest,
                before: AccessRequest | None) -> None:
        if self._audit is not None:
            self._audit.record(AuditEvent(
                at=at, actor=actor, action=action, object_type="access_request",
                object_id=str(after.id), before=before.summary() if before else None,
                after=after.summary()))

