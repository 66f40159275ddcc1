"""In-process stores: the embedded default for rate limits, and stand-ins for one process.

Each implements a protocol of :mod:`linkguard.ports` and passes the same contract tests as the
SQL and Redis stores. Thread-safe: the web layer calls them from worker threads.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from cachetools import TTLCache

from linkguard.audit import AuditEvent
from linkguard.ports import ClickEvent, ClickPage, ClickQuery


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
        with self._lock:
            indexed = list(enumerate(self._events))
        start = _decode_cursor(cursor) if cursor else len(indexed)
        found: list[tuple[int, ClickEvent]] = []
        for position, event in reversed(indexed[:start]):
            if _matches(event, query):
                found.append((position, event))
                if len(found) > limit:
                    break
        more = len(found) > limit
        page = found[:limit]
        next_cursor = _encode_cursor(page[-1][0]) if more and page else None
        return ClickPage(tuple(event for _, event in page), next_cursor)

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


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"m{position}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("m"):
            raise ValueError(cursor)
        return max(int(text[1:]), 0)
    except (ValueError, UnicodeDecodeError):
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
        with self._lock:
            now = self._clock()
            if len(self._nonces) >= self._max:
                self._nonces = {k: v for k, v in self._nonces.items() if v[1] > now}
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
    """A sliding-window-counter limiter per key (the Cloudflare / nginx "approximate" scheme).

    Two fixed windows are kept per key and the previous one is weighted by how much of it still
    overlaps the sliding window: O(1) memory per key, no burst of 2x at window edges.
    Keys live in a TTL cache, so a flood of distinct clients cannot grow memory without bound.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 200_000) -> None:
        self._clock = clock
        self._windows: TTLCache[tuple[str, float], list[float]] = TTLCache(
            maxsize=max_keys, ttl=3600, timer=clock)
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        now = self._clock()
        with self._lock:
            slot = (key, window_s)
            state = self._windows.get(slot)
            current_start = math.floor(now / window_s) * window_s
            if state is None or state[0] < current_start - window_s:
                state = [current_start, 0.0, 0.0]  # start, previous count, current count
            elif state[0] < current_start:
                state = [current_start, state[2], 0.0]  # the current window became previous
            overlap = 1.0 - (now - current_start) / window_s
            estimate = state[1] * overlap + state[2]
            if estimate + 1 > limit:
                self._windows[slot] = state
                if state[2] + 1 > limit or state[1] == 0:
                    return max(current_start + window_s - now, 0.001)
                # Wait until enough of the previous window has slid out.
                needed = (estimate + 1 - limit) / state[1]
                return max(needed * window_s, 0.001)
            state[2] += 1
            self._windows[slot] = state
            return None


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
