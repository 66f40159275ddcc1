"""Display-text mismatch: text that reads as an address naming a different site."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging, codes


@pytest.mark.parametrize(("text", "url", "flagged"), [
    ("www.paypal.com", "https://paypal-help.example.net/", True),
    ("https://www.paypal.com/signin", "https://evil.example.net/", True),
    ("PayPal.com", "https://evil.example.net/", True),
    ("www.example.org", "https://click.mailer.example.net/t/123", True),
    ("paypal.com", "https://www.paypal.com/", False),  # same registrable domain
    ("paypal.com", "https://paypal.me/alice", False),  # one brand, two domains
    ("Click here", "https://evil.example.net/", False),  # not an address
    ("Download v2.0", "https://evil.example.net/", False),
    ("john@paypal.com", "https://evil.example.net/", False),  # an e-mail address
    ("", "https://evil.example.net/", False),
])
def test_mismatch(crafted: Judging, text: str, url: str, flagged: bool) -> None:
    assert ("mismatch.display_text" in codes(crafted(url, text=text))) is flagged


def test_brand_text_is_stronger_than_other_text(crafted: Judging) -> None:
    brand = crafted("https://evil.example.net/", text="www.paypal.com")
    other = crafted("https://evil.example.net/", text="www.example.org")
    assert brand.score > other.score
    assert brand.verdict >= Verdict.WARN
    reason = next(r for r in brand.reasons if r.code == "mismatch.display_text")
    assert reason.evidence["brand"] == "PayPal"
