"""The brand index: typo classification, the length bound, and size-independent lookups."""

from __future__ import annotations

import pytest

from linkguard.adapters.catalog_files import load_confusables
from linkguard.core.brands import BrandIndex, typo_kind, typo_strength
from linkguard.core.catalog import Brand

CONFUSABLES = load_confusables()


@pytest.mark.parametrize(("seen", "token", "kind"), [
    ("paypa", "paypal", "omission"),
    ("paypall", "paypal", "repetition"),
    ("payxpal", "paypal", "insertion"),
    ("paypalx", "paypal", "addition"),
    ("papyal", "paypal", "transposition"),
    ("paypak", "paypal", "keyboard"),
    ("paypel", "paypal", "vowel-swap"),
    ("pqypal", "paypal", "keyboard"),
    ("paypad", "paypal", "bitsquatting"),  # l (0x6c) → d (0x64): one bit
    ("pzypal", "paypal", "keyboard"),
    ("paypal", "paypal", None),
    ("pypl", "paypal", None),  # two edits
    ("lapyap", "paypal", None),
])
def test_typo_kind(seen: str, token: str, kind: str | None) -> None:
    assert typo_kind(seen, token) == kind


@pytest.mark.parametrize(("kind", "token", "strength"), [
    ("omission", "ups", 0.0),  # three letters: no typos but one character appended
    ("addition", "ups", 0.6),
    ("repetition", "ups", 0.0),
    ("omission", "ebay", 0.0),  # four: only shape-keeping edits, and only a warning
    ("repetition", "ebay", 0.6),
    ("transposition", "ebay", 0.6),
    ("replacement", "chase", 0.0),  # five: "phase" is another word, not a slip; others warn
    ("omission", "chase", 0.6),  # other edits warn
    ("keyboard", "chase", 0.6),
    ("insertion", "chase", 0.6),
    ("replacement", "paypal", 0.0),  # six: an arbitrary letter swap is often another word
    ("omission", "paypal", 1.0),
    ("replacement", "microsoft", 1.0),  # a long name: any edit
])
def test_length_bound(kind: str, token: str, strength: float) -> None:
    assert typo_strength(kind, token) == strength


@pytest.mark.parametrize(("kind", "token", "seen", "strength"), [
    ("insertion", "aol", "apol", 0.6),  # inside a three-letter name
    ("insertion", "ing", "bing", 0.0),  # in front of it: a new word
    ("insertion", "ing", "ings", 0.0),
    ("omission", "ebay", "eby", 0.6),
    ("omission", "ebay", "bay", 0.0),
])
def test_short_names_only_flag_edits_inside(kind: str, token: str, seen: str,
                                            strength: float) -> None:
    assert typo_strength(kind, token, seen) == strength


def test_lookups_touch_candidates_not_all_brands() -> None:
    small = BrandIndex([Brand("PayPal", ("paypal",), ("paypal.com",))], CONFUSABLES)
    brands = [Brand(f"b{i}", (f"brandname{i:06d}",), (f"brandname{i:06d}.com",))
              for i in range(20000)]
    big = BrandIndex([*brands, Brand("PayPal", ("paypal",), ("paypal.com",))], CONFUSABLES)
    for index in (small, big):
        hit = index.typo("paypl")
        assert hit is not None
        assert hit.token == "paypal"  # noqa: S105  # a brand token, not a password
    # The candidates examined for a lookup are the ones sharing a deletion key, however many
    # brands there are: a 6-letter label has 7 keys, each mapping to few tokens.
    keys = {"paypa", *{"paypa"[:i] + "paypa"[i + 1:] for i in range(5)}}
    assert sum(len(big.deletions.get(k, ())) for k in keys) < 10


SHORT = BrandIndex([
    Brand("DHL", ("dhl",), ("dhl.com", "dhl.de")),
    Brand("HSBC", ("hsbc",), ("hsbc.com",)),
    Brand("eBay", ("ebay",), ("ebay.com",)),
    Brand("UBS", ("ubs",), ("ubs.com",)),
    Brand("Sagawa", ("sagawa",), ("sagawa-exp.co.jp",)),
], CONFUSABLES)


@pytest.mark.parametrize(("domain", "imitates"), [
    ("dh.com", "dhl"),  # no vowel left: reads as the acronym it came from
    ("dl.com", "dhl"),
    ("hl.com", "dhl"),
    ("hsb.com", "hsbc"),  # a four-letter name cut at its end
    ("sbc.com", "hsbc"),
    ("bs.com", "ubs"),
])
def test_short_omissions_without_a_vowel(domain: str, imitates: str) -> None:
    hit = SHORT.short_omission(domain)
    assert hit is not None
    assert (hit.token, hit.kind, hit.strength) == (imitates, "omission", 0.6)


@pytest.mark.parametrize("domain", [
    "us.com",  # from ubs, but a word
    "ub.com",
    "bay.com",  # from ebay: a word
    "eba.com",
    "dh.de",  # dhl.de is not DHL's main domain: only the main name is read this way
    "dh.net",  # another suffix: someone else's name
    "hsbc.com",  # not an omission at all
    "d.com",  # one letter: nothing left to read
])
def test_short_omission_near_misses(domain: str) -> None:
    assert SHORT.short_omission(domain) is None


def test_unhyphenated_registered_label() -> None:
    hit = SHORT.unhyphenated_label("sagawaexp")
    assert hit is not None
    assert (hit.token, hit.brand.name, hit.kind) == ("sagawa-exp", "Sagawa", "hyphenation")
    assert SHORT.unhyphenated_label("sagawa") is None  # the token: read as an exact name
    assert SHORT.unhyphenated_label("sagawaexpress") is None


@pytest.mark.parametrize("reverse", [False, True])
def test_equally_near_names_resolve_by_brand_name(reverse: bool) -> None:
    # "mountainx" is one omission from both names, equally long, equally strong: the brand
    # first in alphabetical order wins, whatever order the candidates are met in.
    brands = [Brand("Zeta", ("mountainxy",), ("mountainxy.com",)),
              Brand("Alpha", ("mountainxz",), ("mountainxz.com",))]
    index = BrandIndex(brands[::-1] if reverse else brands, CONFUSABLES)
    hit = index.typo("mountainx")
    assert hit is not None
    assert (hit.brand.name, hit.token, hit.kind) == ("Alpha", "mountainxz", "omission")
