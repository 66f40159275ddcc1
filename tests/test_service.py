"""The service layer: facts behind redirect chains, the verdict cache, the click recorder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pytest

from linkguard.adapters.memory import MemoryClickLog
from linkguard.bootstrap import build_judge
from linkguard.core.model import OFFLINE, DomainAge, Facts, FeedHit, Verdict
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal
from linkguard.core.url import ParsedUrl
from linkguard.ports import ClickAction, ClickEvent, ClickKind
from linkguard.service import ApiKeyRing, ClickRecorder, Gateway
from linkguard.settings import Settings

KEYS = KeyRing.parse(generate_key_spec("k1"))


class ScriptedFacts:
    """A FactsSource answering from a table, counting calls."""

    def __init__(self, table: dict[str, Facts]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def gather(self, url: ParsedUrl, *, budget_s: float) -> Facts:
        assert budget_s > 0
        self.calls.append(url.href)
        return self.table.get(url.href, OFFLINE)

    def prefetch(self, urls: Iterable[ParsedUrl]) -> None:
        del urls


@pytest.fixture(scope="module")
def judge():  # type: ignore[no-untyped-def]
    return build_judge(Settings(facts_enabled=False))


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_shortener_is_judged_where_it_ends(judge) -> None:  # type: ignore[no-untyped-def]
    short = "https://bit.ly/3xYz"
    final = "http://paypa1-login.com/verify/account"
    facts = ScriptedFacts({f"{short}": Facts(redirect_chain=(short, final))})
    gateway = Gateway(judge, KEYS, facts=facts, facts_budget_s=0.5)
    decision = run(gateway.decide(short))
    assert decision.verdict >= Verdict.CONFIRM
    assert decision.url is not None
    assert decision.url.href == final
    assert "redirect.chain" in [r.code for r in decision.reasons]


def test_feed_hit_and_young_domain_raise_the_verdict(judge) -> None:  # type: ignore[no-untyped-def]
    url = "https://quiet-site.example.org/x"
    plain = run(Gateway(judge, KEYS).decide(url))
    facts = ScriptedFacts({url: Facts(feed_hits=(FeedHit("openphish", url),),
                                      domain_age=DomainAge.known(2))})
    hit = run(Gateway(judge, KEYS, facts=facts, facts_budget_s=0.5).decide(url))
    assert plain.verdict == Verdict.ALLOW
    assert hit.verdict > plain.verdict
    assert {"reputation.feed", "domain.young"} <= {r.code for r in hit.reasons}


def test_verdicts_are_cached_and_invalidated(judge) -> None:  # type: ignore[no-untyped-def]
    facts = ScriptedFacts({})
    gateway = Gateway(judge, KEYS, facts=facts, facts_budget_s=0.5)
    run(gateway.decide("https://www.example.org/"))
    run(gateway.decide("https://www.example.org/"))
    assert len(facts.calls) == 1
    gateway.invalidate()
    run(gateway.decide("https://www.example.org/"))
    assert len(facts.calls) == 2


def test_open_reports_invalid_and_expired(judge) -> None:  # type: ignore[no-untyped-def]
    gateway = Gateway(judge, KEYS, max_link_age_s=60, clock=lambda: 10_000.0)
    fresh = seal(LinkClaims(url="https://www.example.org/", issued_at=9_990), KEYS)
    old = seal(LinkClaims(url="https://www.example.org/", issued_at=9_000), KEYS)
    assert run(gateway.open(fresh)).state == "ok"
    assert run(gateway.open(old)).state == "expired"
    bad = run(gateway.open("garbage"))
    assert bad.state == "invalid"
    assert bad.error is not None


def event(n: int) -> ClickEvent:
    return ClickEvent(at=datetime.now(UTC), kind=ClickKind.HUMAN, action=ClickAction.REDIRECT,
                      token_id=f"t{n}")


def test_recorder_flushes_in_batches_and_drains_on_close() -> None:
    store = MemoryClickLog()
    recorder = ClickRecorder(store, batch_size=50, flush_interval_s=0.05)
    recorder.start()
    for n in range(1_000):
        assert recorder.record(event(n))
    recorder.close()
    assert len(store) == 1_000
    assert recorder.stats.written == 1_000
    assert recorder.stats.batches >= 20


def test_recorder_counts_drops_when_full() -> None:
    drops: list[int] = []
    recorder = ClickRecorder(MemoryClickLog(), max_queue=3, on_drop=lambda: drops.append(1))
    results = [recorder.record(event(n)) for n in range(5)]
    assert results == [True, True, True, False, False]
    assert recorder.stats.dropped == 2
    assert len(drops) == 2


class FlakyLog(MemoryClickLog):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write_batch(self, events: Sequence[ClickEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database restarting")
        super().write_batch(events)


def test_recorder_retries_a_failing_store_then_counts_the_loss() -> None:
    recovering = FlakyLog(failures=2)
    recorder = ClickRecorder(recovering, retries=3)
    recorder.record(event(1))
    recorder.flush()
    assert len(recovering) == 1
    assert recorder.stats.failed == 0
    down = FlakyLog(failures=10)
    recorder = ClickRecorder(down, retries=2)
    recorder.record(event(1))
    recorder.flush()
    assert recorder.stats.failed == 1
    assert "database restarting" in recorder.stats.last_error


def test_recorder_never_blocks_the_caller() -> None:
    class SlowLog(MemoryClickLog):
        def write_batch(self, events: Sequence[ClickEvent]) -> None:
            time.sleep(0.2)
            super().write_batch(events)

    recorder = ClickRecorder(SlowLog(), max_queue=100)
    recorder.start()
    started = time.perf_counter()
    for n in range(100):
        recorder.record(event(n))
    assert time.perf_counter() - started < 0.1
    recorder.close()
    assert recorder.stats.written == 100


@pytest.mark.parametrize(("spec", "problem"), [
    ("ci", "not name:secret"),
    ("ci:short", "shorter than"),
    ("ci:" + "x" * 30 + ":root", "unknown scope"),
    (":" + "x" * 30, "not name:secret"),
])
def test_api_key_specs_are_checked(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ApiKeyRing.parse(spec)


def test_api_keys_verify_by_digest() -> None:
    ring = ApiKeyRing.parse("ci:" + "x" * 30 + ", ops:" + "y" * 30 + ":verdict+admin:read")
    assert len(ring) == 2
    ci = ring.verify("x" * 30)
    assert ci is not None
    assert ci.scopes == frozenset({"verdict"})
    ops = ring.verify("y" * 30)
    assert ops is not None
    assert ops.scopes == frozenset({"verdict", "admin:read"})
    assert ring.verify("x" * 29) is None
