"""A small crafted catalog for check tests, and the shipped one for the near-miss tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkguard.adapters.catalog_files import load_catalog, load_confusables
from linkguard.core.catalog import (
    Catalog,
    parse_brands,
    parse_host_lines,
    parse_platforms,
    parse_tld_lines,
    parse_word_lines,
)
from linkguard.core.checks import default_checks
from linkguard.core.lists import ListIndex, parse_list_file
from linkguard.core.model import Decision, Facts, LinkContext
from linkguard.core.policy import Policy
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.service import Judge
from linkguard.settings import default_shipped_lists_dir
from tests.core.support import Judging

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

BRANDS = """
version: 1
brands:
  - name: PayPal
    tokens: [paypal]
    domains: [paypal.com, paypal.me, paypalobjects.com]
  - name: Apple
    tokens: [apple, icloud, appleid]
    domains: [apple.com, icloud.com]
  - name: DHL
    tokens: [dhl]
    domains: [dhl.com, dhl.de]
  - name: eBay
    tokens: [ebay]
    domains: [ebay.com, ebay.de]
  - name: Chase
    tokens: [chase]
    domains: [chase.com]
  - name: Microsoft
    tokens: [microsoft, outlook, onedrive]
    domains: [microsoft.com, live.com, outlook.com, office.com]
  - name: Sagawa
    tokens: [sagawa]
    domains: [sagawa-exp.co.jp]
"""
PLATFORMS = """
platforms:
  - {match: 000webhostapp.com, kind: web_hosting}
  - {match: github.io, kind: dev_hosting}
  - {match: docs.google.com/forms/, kind: forms}
"""
LISTS = """
version: 1
allow:
  - domain: trusted-partner.org
  - host: 1drv.ms
  - domain: partner-portal.org
block:
  - host: files.partner-portal.org
  - domain: evil.com
  - url_prefix: https://files.example.net/bad/
  - domain: trusted-partner.org
    subdomains: false
    expires: 2020-01-01
"""


def crafted_catalog() -> Catalog:
    entries = parse_list_file(LISTS, "lists.yaml")
    return Catalog(
        brands=parse_brands(BRANDS, "brands.yaml"),
        platforms=parse_platforms(PLATFORMS, "free_hosting.yaml"),
        shorteners=parse_host_lines("bit.ly\ntinyurl.com\n", "shorteners.txt"),
        suspicious_tlds=parse_tld_lines("tk high\nxyz elevated\n", "tlds.txt"),
        lure_words=parse_word_lines(
            "login\nsecure\nverify\naccount\nupdate\nsupport\nsignin\nbilling\ntracking\n"
            "parcel\ndelivery\nwallet\n", "lure.txt"),
        lists=ListIndex.build(entries),
    )


def _judging(judge: Judge) -> Judging:
    def run(url: str, text: str | None = None, facts: Facts | None = None) -> Decision:
        return judge.judge(url, context=LinkContext(display_text=text),
                           facts=facts or Facts(), now=NOW)
    return run


@pytest.fixture(scope="session")
def crafted() -> Judging:
    catalog = crafted_catalog()
    return _judging(Judge(catalog, default_checks(catalog, load_confusables()), Policy()))


@pytest.fixture(scope="session")
def strengths() -> Callable[[str, str], dict[str, float]]:
    """``strengths(check_name, url)``: the signals one crafted check emits, by code, with the
    strength each carries (reasons show evidence, not strength)."""
    catalog = crafted_catalog()
    checks = {c.name: c for c in default_checks(catalog, load_confusables())}

    def run(check: str, url: str) -> dict[str, float]:
        parsed = parse_url(url)
        assert isinstance(parsed, ParsedUrl), parsed
        return {s.code: s.strength for s in checks[check].run(parsed, LinkContext(), Facts(),
                                                               NOW)}
    return run


@pytest.fixture(scope="session")
def shipped() -> Judging:
    directory: Path = default_shipped_lists_dir()
    catalog = load_catalog(directory)
    return _judging(Judge(catalog, default_checks(catalog, load_confusables()), Policy()))
