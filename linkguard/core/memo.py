"""A bounded memo for per-host work on the click path.

Mail links repeat hosts far more than URLs, so the host-only parts of a verdict are remembered.
An LRU's bookkeeping costs about as much as the dictionary lookup it guards; this memo is a
plain dict that empties itself when full, which keeps lookups at C speed and memory bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    __slots__ = ("_data", "get", "limit")

    def __init__(self, limit: int) -> None:
        self._data: dict[K, V] = {}
        self.limit = limit
        # The dict's own get, bound once: a lookup is then one call into C, with no Python
        # frame in between (the memo is consulted several times per URL). ``put`` and
        # ``clear`` empty this same dict, never replace it, so the binding stays valid.
        self.get: Callable[[K], V | None] = self._data.get

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def put(self, key: K, value: V) -> V:
        if len(self._data) >= self.limit:
            self._data.clear()
        self._data[key] = value
        return value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
