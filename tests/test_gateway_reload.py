"""A list reload while a verdict is being judged: the old lists' verdict is not cached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from linkguard.bootstrap import build_judge
from linkguard.core.lists import Action, ListEntry, MatchKind
from linkguard.core.model import OFFLINE, Facts, Verdict
from linkguard.core.tokens import KeyRing, generate_key_spec
from linkguard.core.url import ParsedUrl
from linkguard.service import Gateway
from linkguard.settings import Settings

KEYS = KeyRing.parse(generate_key_spec("k1"))
URL = "https://www.example.org/page"


class ReloadDuringFacts:
    """Facts that take a moment, during which the list watcher swaps the judge."""

    def __init__(self) -> None:
        self.reload: list[object] = []

    async def gather(self, url: ParsedUrl, *, budget_s: float) -> Facts:
        del url, budget_s
        while self.reload:
            action = self.reload.pop()
            assert callable(action)
            action()
        await asyncio.sleep(0)
        return OFFLINE

    def prefetch(self, urls: Iterable[ParsedUrl]) -> None:
        del urls


def test_a_verdict_judged_across_a_reload_is_not_kept() -> None:
    judge = build_judge(Settings(facts_enabled=False))
    blocking = judge.with_entries([ListEntry(Action.BLOCK, MatchKind.DOMAIN, "example.org",
                                             reason="incident")])
    facts = ReloadDuringFacts()
    gateway = Gateway(judge, KEYS, facts=facts, facts_budget_s=0.5)
    facts.reload.append(lambda: gateway.replace_judge(blocking))
    first = asyncio.run(gateway.decide(URL))
    assert first.verdict == Verdict.ALLOW  # judged with the lists it started with
    # The block is in force from the next click on, not after the cache's lifetime.
    assert asyncio.run(gateway.decide(URL)).verdict == Verdict.BLOCK
