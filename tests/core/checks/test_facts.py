"""Domain age and reputation signals come from facts; "not consulted" is silent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from linkguard.core.model import AgeState, DomainAge, Facts, FeedHit, Verdict
from tests.core.support import Judging, codes

URL = "https://shop.example.org/"


def test_not_consulted_never_raises_a_verdict(crafted: Judging) -> None:
    decision = crafted(URL, facts=Facts(domain_age=DomainAge(AgeState.NOT_CONSULTED)))
    assert decision.verdict is Verdict.ALLOW
    assert not codes(decision)


@pytest.mark.parametrize(("days", "verdict"), [
    (2, Verdict.WARN), (20, Verdict.WARN), (60, Verdict.ALLOW), (4000, Verdict.ALLOW)])
def test_young_domains_raise_risk(crafted: Judging, days: int, verdict: Verdict) -> None:
    decision = crafted(URL, facts=Facts(domain_age=DomainAge.known(days)))
    assert decision.verdict is verdict
    assert ("domain.young" in codes(decision)) is (days <= 365)


def test_young_domain_adds_to_other_signals(crafted: Judging) -> None:
    url = "https://secure-account-update-billing.com/login"
    old = crafted(url, facts=Facts(domain_age=DomainAge.known(5000)))
    young = crafted(url, facts=Facts(domain_age=DomainAge.known(3)))
    assert young.score > old.score
    assert young.verdict > old.verdict


def test_unknown_age_follows_the_configured_posture(crafted: Judging) -> None:
    decision = crafted(URL, facts=Facts(domain_age=DomainAge.unknown("rdap timeout")))
    assert "domain.age_unknown" in codes(decision)
    assert decision.verdict is Verdict.ALLOW  # default posture: fail open


def test_unregistered_domain(crafted: Judging) -> None:
    decision = crafted(URL, facts=Facts(domain_age=DomainAge(
        AgeState.KNOWN, registered_missing=True)))
    assert "domain.unregistered" in codes(decision)
    assert decision.verdict >= Verdict.CONFIRM


def test_feed_hit_blocks(crafted: Judging) -> None:
    hit = FeedHit("openphish", URL, datetime(2026, 11, 20, tzinfo=UTC))
    decision = crafted(URL, facts=Facts(feed_hits=(hit,)))
    assert decision.verdict is Verdict.BLOCK
    reason = decision.reasons[0]
    assert reason.code == "reputation.feed"
    assert reason.evidence["source"] == "openphish"


# --- redirect chains (facts from the resolver) ----------------------------------------------

SHORT = "https://bit.ly/3xYzAbC"


def test_unresolved_shortener_warns(crafted: Judging) -> None:
    decision = crafted(SHORT)
    assert "redirect.shortener" in codes(decision)
    assert decision.verdict is Verdict.WARN


def test_resolved_shortener_no_longer_warns_by_itself(crafted: Judging) -> None:
    chain = (SHORT, "https://shop.example.org/spring-sale")
    decision = crafted(SHORT, facts=Facts(redirect_chain=chain))
    assert "redirect.shortener" not in codes(decision)
    assert "redirect.chain" in codes(decision)
    assert decision.verdict is Verdict.ALLOW
    chain_reason = next(r for r in decision.reasons if r.code == "redirect.chain")
    assert chain_reason.evidence["hops"] == 1
    assert "shop.example.org" in str(chain_reason.evidence["chain"])


def test_judging_the_final_url_names_the_chain(crafted: Judging) -> None:
    final = "https://shop.example.org/spring-sale"
    decision = crafted(final, facts=Facts(redirect_chain=(SHORT, final)))
    assert codes(decision) == {"redirect.chain"}
    assert decision.verdict is Verdict.ALLOW


def test_chain_that_stopped_on_the_shortener_still_warns(crafted: Judging) -> None:
    # The resolver ran out of hops or time on a second shortener: that one hides the end.
    second = "https://tinyurl.com/abcdef"
    decision = crafted(second, facts=Facts(redirect_chain=(SHORT, second)))
    assert "redirect.shortener" in codes(decision)
    assert decision.verdict is Verdict.WARN


def test_destination_of_a_chain_is_judged_on_its_own_merits(crafted: Judging) -> None:
    final = "http://paypa1-login.tk/verify"
    decision = crafted(final, facts=Facts(redirect_chain=(SHORT, final)))
    assert decision.verdict >= Verdict.CONFIRM
