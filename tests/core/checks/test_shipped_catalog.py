"""The shipped brands and lists, end to end: attacks on real brands, and real benign names that
merely contain a brand's letters. This is the false-positive table the product ships with."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging

ATTACKS = [
    ("https://paypa1.com/login", Verdict.CONFIRM),
    ("https://www.paypal.com.account-verify.xyz/", Verdict.CONFIRM),
    ("https://paypal-secure-login.com/", Verdict.CONFIRM),
    ("https://micros0ft-online.com/", Verdict.CONFIRM),
    ("https://appleid-verify-account.com/", Verdict.CONFIRM),
    ("https://xn--pple-43d.com/", Verdict.BLOCK),  # Cyrillic а in apple
    ("https://amaz0n.co.uk/", Verdict.BLOCK),
    ("https://netfl1x-billing.com/", Verdict.CONFIRM),
    ("https://dhl-parcel-tracking.info/", Verdict.CONFIRM),
    ("https://wellsfargo-alerts.com/", Verdict.CONFIRM),
    ("https://login.microsoftonline.com.session-check.top/", Verdict.CONFIRM),
    ("https://www.chase.com@203.0.113.7/", Verdict.CONFIRM),
    ("https://docusign-review.web.app/", Verdict.CONFIRM),
    ("https://faceb00k.com/", Verdict.BLOCK),
    ("https://arnazon.com/", Verdict.BLOCK),  # rn for m
    ("https://linkedln.com/", Verdict.CONFIRM),  # l for i
]

BENIGN = [
    "https://www.paypal.com/", "https://www.paypal.com/myaccount/summary",
    "https://appleid.apple.com/", "https://www.icloud.com/", "https://login.live.com/",
    "https://outlook.office.com/mail/", "https://www.amazon.co.uk/gp/css/order-history",
    "https://www.dhl.de/de/privatkunden.html", "https://www.chase.com/",
    "https://accounts.google.com/", "https://www.linkedin.com/in/someone",
    # ordinary names containing brand letters
    "https://www.applebees.com/", "https://www.pineapple.com/", "https://www.snapple.com/",
    "https://www.upstart.com/", "https://www.groupon.com/", "https://www.chaseroom.org/",
    "https://www.amazonia.org/", "https://www.netflixable.com/",
]


@pytest.mark.parametrize(("url", "floor"), ATTACKS)
def test_attacks_on_shipped_brands(shipped: Judging, url: str, floor: Verdict) -> None:
    decision = shipped(url)
    assert decision.verdict >= floor, (decision.verdict, decision.reasons)


@pytest.mark.parametrize("url", BENIGN)
def test_benign_names_stay_below_confirm(shipped: Judging, url: str) -> None:
    decision = shipped(url)
    assert decision.verdict <= Verdict.WARN, decision.reasons
    assert not {r.code for r in decision.reasons
                if r.code.startswith("lookalike.") and decision.verdict >= Verdict.WARN}
