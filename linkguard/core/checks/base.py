"""The contract every check follows: look at one URL, name what you saw, never score it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import ParsedUrl


class Check(Protocol):
    """A check is built once from the catalog (parsing done then) and run on every URL.

    ``run`` must be pure and cheap: dictionary lookups, no I/O, no clock (``now`` is passed in).
    """

    name: str

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]: ...
