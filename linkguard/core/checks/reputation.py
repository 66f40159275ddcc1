"""Reputation-feed hits found outside the engine (facts), reported as signals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import ParsedUrl


class ReputationCheck:
    name = "reputation"

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]:
        if not facts.feed_hits and len(facts.redirect_chain) <= 1:
            return ()  # the usual case: no generator for it
        return self._run(facts)

    def _run(self, facts: Facts) -> Iterator[Signal]:
        for hit in facts.feed_hits:
            evidence: dict[str, str | int | float | bool] = {
                "source": hit.source, "matched": hit.matched}
            if hit.listed:
                evidence["listed"] = hit.listed.date().isoformat()
            yield Signal("reputation.feed", evidence)
        if len(facts.redirect_chain) > 1:
            yield Signal("redirect.chain", {"hops": len(facts.redirect_chain) - 1,
                                            "chain": " → ".join(facts.redirect_chain)})
