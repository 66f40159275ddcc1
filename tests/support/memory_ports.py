"""In-process stand-ins for the NonceStore and RateLimiter ports, for tests of their users.

Test-only and single-process: the product's implementations (memory, SQLite, Redis) live in
linkguard/adapters and have contract tests of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from linkguard.ports import StoreUnavailableError


class FixedWindowLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        now = self.clock()
        start, count = self.windows.get(key, (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        if count >= limit:
            return start + window_s - now
        self.windows[key] = (start, count + 1)
        return None


class DictNonces:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.live: dict[str, tuple[str, float]] = {}
        self.down = False

    def issue(self, nonce: str, subject: str, ttl_s: float) -> None:
        if self.down:
            raise StoreUnavailableError("down")
        self.live[nonce] = (subject, self.clock() + ttl_s)

    def consume(self, nonce: str, subject: str) -> bool:
        if self.down:
            raise StoreUnavailableError("down")
        entry = self.live.get(nonce)
        if entry is None or entry[0] != subject or entry[1] <= self.clock():
            return False
        del self.live[nonce]
        return True

    def ping(self) -> None:
        if self.down:
            raise StoreUnavailableError("down")
