"""Lookalike check: (url, expected verdict floor, expected reason) tables with near-misses."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging, codes

# (url, reason code that must appear, minimum verdict)
ATTACKS = [
    # homoglyphs and confusables (UTS #39 skeleton), whole-script and mixed-script IDN
    ("https://pаypal.com/", "lookalike.homoglyph", Verdict.BLOCK),  # Cyrillic а
    ("https://xn--pypal-4ve.com/", "lookalike.homoglyph", Verdict.BLOCK),  # same, A-label
    ("https://paypa1.com/login", "lookalike.homoglyph", Verdict.BLOCK),  # digit one
    ("https://rnicrosoft.com/", "lookalike.homoglyph", Verdict.BLOCK),  # rn for m
    ("https://micrоsoft.com/", "lookalike.homoglyph", Verdict.BLOCK),  # Cyrillic о
    ("https://аррlе.com/", "lookalike.homoglyph", Verdict.BLOCK),  # Cyrillic а, р
    ("https://pàypal.com/", "lookalike.homoglyph", Verdict.BLOCK),  # accent
    ("https://paypa1-login.net/", "lookalike.combo", Verdict.CONFIRM),
    ("https://0utlook.com/", "lookalike.homoglyph", Verdict.BLOCK),
    ("https://onedrlve.com/", "lookalike.typo", Verdict.CONFIRM),
    # typosquats: one edit of a long name
    ("https://paypall.com/", "lookalike.typo", Verdict.CONFIRM),  # repetition
    ("https://paypa.com/", "lookalike.typo", Verdict.CONFIRM),  # omission
    ("https://papyal.com/", "lookalike.typo", Verdict.CONFIRM),  # transposition
    ("https://paypak.com/", "lookalike.typo", Verdict.CONFIRM),  # keyboard replacement
    ("https://paypel.com/", "lookalike.typo", Verdict.CONFIRM),  # vowel swap
    ("https://pay-pal.com/", "lookalike.typo", Verdict.WARN),  # hyphenation
    ("https://paypals.com/", "lookalike.typo", Verdict.CONFIRM),  # plural
    ("https://paypal.net/", "lookalike.typo", Verdict.WARN),  # TLD swap
    ("https://pay.pal.com/", "lookalike.typo", Verdict.CONFIRM),  # split by a dot
    ("https://microsfot.com/", "lookalike.typo", Verdict.CONFIRM),
    # short names: fewer kinds of edit, weaker verdicts
    ("https://ebbay.com/", "lookalike.typo", Verdict.WARN),  # repetition of a 4-letter name
    ("https://eaby.com/", "lookalike.typo", Verdict.WARN),  # transposition
    ("https://dhl.net/", "lookalike.typo", Verdict.WARN),  # TLD swap of a 3-letter name
    ("https://dh.com/", "lookalike.typo", Verdict.WARN),  # omission leaving no vowel
    ("https://sagawaexp.co.jp/", "lookalike.typo", Verdict.WARN),  # hyphen of sagawa-exp dropped
    ("https://sagawa-exp.com/", "lookalike.typo", Verdict.WARN),  # hyphenated label, other TLD
    # combosquats
    ("https://paypal-secure-login.com/", "lookalike.combo", Verdict.CONFIRM),
    ("https://secure-paypal.net/", "lookalike.combo", Verdict.CONFIRM),
    ("https://paypalverify.xyz/", "lookalike.combo", Verdict.CONFIRM),
    ("https://verifypaypalaccount.com/", "lookalike.combo", Verdict.CONFIRM),
    ("https://appleid-support.com/", "lookalike.combo", Verdict.CONFIRM),
    ("https://dhl-tracking-parcel.com/", "lookalike.combo", Verdict.CONFIRM),
    ("https://chase-online-banking.com/", "lookalike.combo", Verdict.WARN),
    ("https://my-paypal2024.com/", "lookalike.combo", Verdict.CONFIRM),
    # brand in front of an unrelated domain, or in the userinfo
    ("https://paypal.com.account-verify.xyz/", "lookalike.brand_subdomain", Verdict.CONFIRM),
    ("https://www.paypal.com.secure.example.net/", "lookalike.brand_subdomain",
     Verdict.CONFIRM),
    ("https://paypal.example.net/", "lookalike.brand_subdomain", Verdict.CONFIRM),
    ("https://paypal-login.example.net/", "lookalike.brand_subdomain", Verdict.CONFIRM),
    ("https://apple.com-id.info/", "lookalike.brand_subdomain", Verdict.CONFIRM),
    ("https://paypal.com@evil.net/", "lookalike.brand_subdomain", Verdict.CONFIRM),
    ("https://www.paypal.com:login@203.0.113.9/", "lookalike.brand_subdomain", Verdict.CONFIRM),
]

# Benign near-misses: a brand's own domains and subdomains, and ordinary names containing a
# brand's letters. None may be flagged as a lookalike.
BENIGN = [
    "https://www.paypal.com/",
    "https://www.paypal.com/signin",
    "https://paypal.me/alice",
    "https://www.paypalobjects.com/js/app.js",
    "https://appleid.apple.com/",
    "https://support.apple.com/en-us/HT201",
    "https://www.icloud.com/",
    "https://login.live.com/",
    "https://outlook.office.com/mail/",
    "https://applebees.com/",
    "https://pineapple.com/",
    "https://snapple.com/",
    "https://www.appleton.org/",
    "https://www.chasers.com/",
    "https://purchase.com/",
    "https://www.ebayer.net/",  # not an edit a person makes of "ebay"
    "https://phase.com/",  # one letter from "chase", but not a typing slip
    "https://groups.example.com/",  # "ups"-like letters inside a word
    "https://adhlab.org/",
    "https://www.paypay.ne.jp/",  # a real brand one letter from another
    "https://www.dhl.de/de/privatkunden.html",
    "https://bay.com/",  # ebay less a letter: a word, someone's name
    "https://dh.de/",  # dhl less a letter, but not under DHL's main suffix
    "https://www.sagawa-exp.co.jp/",
]


@pytest.mark.parametrize(("url", "code", "floor"), ATTACKS)
def test_attacks_are_flagged(crafted: Judging, url: str, code: str, floor: Verdict) -> None:
    decision = crafted(url)
    assert code in codes(decision), decision.reasons
    assert decision.verdict >= floor, (decision.verdict, decision.reasons)


@pytest.mark.parametrize("url", BENIGN)
def test_benign_near_misses_are_not_lookalikes(crafted: Judging, url: str) -> None:
    decision = crafted(url)
    assert not {c for c in codes(decision) if c.startswith("lookalike.")}, decision.reasons


@pytest.mark.parametrize("url", [
    "https://microsoftedge.example-news.com/2024/review",  # a long brand name run into a word
    "https://netflixfans.example/",
])
def test_weak_readings_warn_at_most(crafted: Judging, url: str) -> None:
    assert crafted(url).verdict <= Verdict.WARN


def test_evidence_names_brand_and_kind(crafted: Judging) -> None:
    reason = next(r for r in crafted("https://papyal.com/").reasons
                  if r.code == "lookalike.typo")
    assert reason.evidence["brand"] == "PayPal"
    assert reason.evidence["imitates"] == "paypal"
    assert reason.evidence["kind"] == "transposition"


@pytest.mark.parametrize(("url", "scripts"), [
    ("https://pаypal.com/", "CYRILLIC,LATIN"),
    ("https://exаmple.com/", "CYRILLIC,LATIN"),
])
def test_mixed_script_labels(crafted: Judging, url: str, scripts: str) -> None:
    reason = next(r for r in crafted(url).reasons if r.code == "idn.mixed_script")
    assert reason.evidence["scripts"] == scripts


@pytest.mark.parametrize("url", [
    "https://bücher.de/",  # Latin with diacritics: one script
    "https://日本語.jp/",  # Han
    "https://ドメイン名例.jp/",  # Katakana with Han: an allowed combination
    "https://пример.рф/",  # Cyrillic under a Cyrillic TLD
])
def test_single_script_idn_is_not_flagged(crafted: Judging, url: str) -> None:
    assert "idn.mixed_script" not in codes(crafted(url))


def test_whole_script_confusable_under_latin_tld(crafted: Judging) -> None:
    # "асе.com" is entirely Cyrillic but reads as Latin "ace".
    assert "idn.mixed_script" in codes(crafted("https://асе.com/"))
