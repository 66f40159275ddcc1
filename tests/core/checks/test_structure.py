"""Structure check: scheme, host form, userinfo, port, nesting, TLD, shortener, hosting."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging, Strengths, codes

CASES = [
    # (url, codes expected, codes that must be absent)
    ("javascript:alert(document.cookie)", {"scheme.dangerous"}, set()),
    ("JaVaScRiPt:alert(1)", {"scheme.dangerous"}, set()),
    ("java\tscript:alert(1)", {"scheme.dangerous"}, set()),
    ("data:text/html;base64,PHNjcmlwdD4=", {"scheme.dangerous"}, set()),
    ("vbscript:msgbox(1)", {"scheme.dangerous"}, set()),
    ("file:///etc/passwd", {"scheme.dangerous"}, set()),
    ("ftp://files.example.org/a.zip", {"scheme.other"}, {"scheme.dangerous"}),
    ("http://example.org/", {"scheme.plain_http"}, set()),
    ("https://user@example.org/", {"url.userinfo"}, {"url.userinfo_domain"}),
    ("https://login.microsoftonline.com@evil.net/", {"url.userinfo_domain"}, set()),
    ("http://3232235777/", {"host.ip_literal"}, set()),
    ("http://0x7f.1/", {"host.ip_literal"}, set()),
    ("http://[2001:db8::1]/", {"host.ip_literal"}, set()),
    ("https://example.org:8443/", {"host.port"}, set()),
    ("https://example.org:443/", set(), {"host.port"}),  # default port: not unusual
    ("https://a.b.c.d.example.org/", {"host.deep_subdomain"}, set()),
    ("https://a.b.example.org/", set(), {"host.deep_subdomain"}),
    ("https://free-gift-card-claim-now.com/", {"host.many_hyphens"}, set()),
    ("https://shop.example.tk/", {"tld.suspicious"}, set()),
    ("https://example.xyz/", {"tld.suspicious"}, set()),
    ("https://bit.ly/3xYzAbC", {"redirect.shortener"}, set()),
    ("https://bit.ly/", set(), {"redirect.shortener"}),  # the shortener's own home page
    ("https://mysite.000webhostapp.com/", {"hosting.free"}, set()),
    ("https://000webhostapp.com/", set(), {"hosting.free"}),  # the platform's own page
    ("https://alice.github.io/login", {"hosting.free"}, set()),
    ("https://github.io/", set(), {"hosting.free"}),
    ("https://docs.google.com/forms/d/e/1FAIpQL/viewform", {"hosting.free"}, set()),
    ("https://docs.google.com/document/d/1abc/edit", set(), {"hosting.free"}),
    ("https://www.example.org/", set(), {"hosting.free", "tld.suspicious", "host.port"}),
]


@pytest.mark.parametrize(("url", "present", "absent"), CASES)
def test_structure_signals(crafted: Judging, url: str, present: set[str],
                           absent: set[str]) -> None:
    found = codes(crafted(url))
    assert present <= found, found
    assert not absent & found, found


@pytest.mark.parametrize(("url", "verdict"), [
    ("javascript:alert(1)", Verdict.BLOCK),
    ("https://login.microsoftonline.com@evil.net/", Verdict.CONFIRM),
    ("http://203.0.113.7/", Verdict.WARN),
    ("https://www.example.org/", Verdict.ALLOW),
    ("http://example.org/", Verdict.ALLOW),  # plain http alone is mild
])
def test_default_policy_verdicts(crafted: Judging, url: str, verdict: Verdict) -> None:
    assert crafted(url).verdict is verdict


def test_ip_range_is_evidence(crafted: Judging) -> None:
    reason = next(r for r in crafted("http://0177.0.0.1/").reasons
                  if r.code == "host.ip_literal")
    assert reason.evidence == {"host": "127.0.0.1", "range": "loopback"}


@pytest.mark.parametrize(("url", "strength"), [
    ("https://shopexamples.com/", 0.5),  # 12 letters
    ("https://shopexample.com/", None),  # 11 letters: an ordinary name
    ("https://cityapartment.com/", 0.5),  # 13
    ("https://cityapartments.com/", 0.75),  # 14 to 17
    ("https://onlinebankingmanage.com/", 1.0),  # 18 and more
    ("https://shop-example.com/", None),  # hyphens are not letters (many_hyphens counts them)
])
def test_long_names_count_in_steps(strengths: Strengths, url: str,
                                   strength: float | None) -> None:
    assert strengths("structure", url).get("host.long_name") == strength


@pytest.mark.parametrize("url", [
    "https://betasus199.com/",  # a word and a serial number
    "https://site9423773.example.net/",
    "https://hepsbahis01.com/",  # two digits at the very end of a word
    "https://konto54875424.eu/",
])
def test_numbered_names(crafted: Judging, url: str) -> None:
    decision = crafted(url)
    assert "host.numbered_name" in codes(decision)
    assert decision.verdict is Verdict.ALLOW  # weak alone


@pytest.mark.parametrize("url", [
    "https://www.mp3.com/",
    "https://web2.example.com/",
    "https://example.com/2024/05/",  # numbers in the path are not the name's
    "https://a1b2.com/",  # too short to read as a word with a number
    "https://de30.com/",  # two digits after fewer than three letters
])
def test_numbered_name_near_misses(crafted: Judging, url: str) -> None:
    assert "host.numbered_name" not in codes(crafted(url))


@pytest.mark.parametrize(("url", "shortener"), [
    ("https://x7k2.app.link/abc", "app.link"),  # a shortener handing out subdomains
    ("https://maps.app.goo.gl/xyz", "goo.gl"),
    ("https://bit.ly/3xYzAbC", "bit.ly"),
])
def test_shortener_subdomains(url: str, shortener: str, shipped: Judging) -> None:
    reason = next(r for r in shipped(url).reasons if r.code == "redirect.shortener")
    assert reason.evidence["shortener"] == shortener


def test_shortener_lookalike_parent_is_not_a_shortener(crafted: Judging) -> None:
    assert "redirect.shortener" not in codes(crafted("https://bit.ly.example.com/abc"))
    assert "redirect.shortener" not in codes(crafted("https://notbit.ly/abc"))


def test_plain_http_needs_company_to_warn(crafted: Judging) -> None:
    assert crafted("http://example.org/about").verdict is Verdict.ALLOW
    # http and a name ending in a serial number: two weak signs together
    assert crafted("http://betasus199.com/").verdict is Verdict.WARN
    assert crafted("https://betasus199.com/").verdict is Verdict.ALLOW
