"""Admin allow/block lists. Precedence (block over allow over the rest) is policy's job."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from linkguard.core.lists import Action, ListEntry, ListIndex
from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import ParsedUrl


class ListCheck:
    name = "lists"

    def __init__(self, index: ListIndex) -> None:
        self.index = index

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]:
        entries = self.index.matches(url, now)
        return self._signals(entries) if entries else ()

    def _signals(self, entries: list[ListEntry]) -> Iterator[Signal]:
        for entry in entries:
            evidence: dict[str, str | int | float | bool] = {
                "entry": entry.describe(), "source": entry.source}
            if entry.reason:
                evidence["reason"] = entry.reason
            if entry.owner:
                evidence["owner"] = entry.owner
            yield Signal("list.block" if entry.action is Action.BLOCK else "list.allow", evidence)
