"""Admin lists in the engine: block beats allow beats everything; feeds still warn."""

from __future__ import annotations

import pytest

from linkguard.core.model import Facts, FeedHit, Verdict
from tests.core.support import Judging, codes


@pytest.mark.parametrize(("url", "verdict", "code"), [
    ("https://evil.com/", Verdict.BLOCK, "list.block"),
    ("https://deep.sub.evil.com/x", Verdict.BLOCK, "list.block"),
    ("https://files.example.net/bad/report.html", Verdict.BLOCK, "list.block"),
    ("https://trusted-partner.org/", Verdict.ALLOW, "list.allow"),  # expired block entry
    ("https://1drv.ms/u/s!abc", Verdict.ALLOW, "list.allow"),
])
def test_list_precedence(crafted: Judging, url: str, verdict: Verdict, code: str) -> None:
    decision = crafted(url)
    assert decision.verdict is verdict
    assert decision.reasons[0].code == code


def test_allowed_name_in_front_of_another_domain_is_not_allowed(crafted: Judging) -> None:
    assert "list.allow" not in codes(crafted("https://trusted-partner.org.evil.tk/login"))


def test_unlisted_prefix_neighbour_is_not_blocked(crafted: Judging) -> None:
    assert "list.block" not in codes(crafted("https://files.example.net/good/report.html"))


def test_allow_overrides_lookalike_signals(crafted: Judging) -> None:
    decision = crafted("https://login.trusted-partner.org/paypal/verify#a@b.example")
    assert decision.verdict is Verdict.ALLOW
    assert decision.score == 0


def test_feed_hit_on_allowlisted_domain_still_warns(crafted: Judging) -> None:
    decision = crafted("https://trusted-partner.org/x", facts=Facts(
        feed_hits=(FeedHit("urlhaus", "https://trusted-partner.org/x"),)))
    assert decision.verdict is Verdict.WARN
    assert {"list.allow", "reputation.feed"} <= codes(decision)


def test_block_beats_allow(crafted: Judging) -> None:
    # partner-portal.org is allowed with its subdomains; one host of it is blocked.
    blocked = crafted("https://files.partner-portal.org/x")
    assert blocked.verdict is Verdict.BLOCK
    assert {"list.block", "list.allow"} <= codes(blocked)
    assert blocked.reasons[0].code == "list.block"
    assert crafted("https://www.partner-portal.org/x").verdict is Verdict.ALLOW
