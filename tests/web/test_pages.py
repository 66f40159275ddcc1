"""Everything a page shows is escaped and visible: hostile destinations and display texts."""

from __future__ import annotations

import pytest

from linkguard.core.url import ParsedUrl, parse_url
from linkguard.web.pages import destination, visible
from linkguard.web.security import csp, csrf_field, csrf_ok, origin_of
from tests.web.conftest import BLOCKED, Gw

pytestmark = pytest.mark.anyio

HOSTILE_DISPLAY = [
    '<script>alert("x")</script>https://paypal.com',
    '"><img src=x onerror=alert(1)>',
    "https://paypal.com\u202egnp.exe",
    "pay\u200dpal.com\u2028next",
    "{{ 7*7 }}{% raw %}",
]


@pytest.mark.parametrize("text", HOSTILE_DISPLAY)
async def test_hostile_display_text_is_escaped(gw: Gw, text: str) -> None:
    page = await gw.client.get(gw.link("https://example.com/x", display_text=text))
    html = page.text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "\u202e" not in html
    assert "\u200d" not in html
    assert "\u2028" not in html
    if "\u202e" in text:  # what the reader saw before the override is what is compared
        assert page.status_code == 200
        assert "shown: <span dir=\"ltr\">paypal.com</span>" in html


@pytest.mark.parametrize("url", [
    "https://evil.blocked-site.net/<script>alert(1)</script>",
    "https://evil.blocked-site.net/?q=\"onmouseover='x'",
    "https://evil.blocked-site.net/" + "a" * 3900,
    "https://user:pa%22ss@evil.blocked-site.net/",
    "https://evil.blocked-site.net/\u202efdp.exe",
])
async def test_hostile_destinations_are_escaped(gw: Gw, url: str) -> None:
    page = await gw.client.get(gw.link(url))
    assert page.status_code == 403
    html = page.text
    assert "<script>alert" not in html
    assert "onmouseover='x'" not in html
    assert "\u202e" not in html
    assert '<mark class="domain">blocked-site.net</mark>' in html


async def test_four_kilobyte_destination_is_shown_whole(gw: Gw) -> None:
    long = BLOCKED + "?p=" + "x" * (4000 - len(BLOCKED) - 3)  # the longest link we seal
    assert len(long) == 4000
    html = (await gw.client.get(gw.link(long))).text
    assert long.replace("&", "&amp;") in html.replace('<span class="part">', "").replace(
        '</span>', "").replace('<mark class="domain">', "").replace("</mark>", "")


async def test_pages_are_accessible_basics(gw: Gw) -> None:
    for url in ("https://example.com/start", BLOCKED, "http://paypa1-login.com/verify/account"):
        html = (await gw.client.get(gw.link(url, display_text="https://www.paypal.com/"))).text
        assert '<html lang="en">' in html
        assert 'name="viewport"' in html
        assert html.count("<h1>") == 1
        assert "<main" in html
        assert "style=" not in html
        assert "<script>" not in html


def test_destination_split_highlights_the_registrable_domain() -> None:
    cases = {
        "https://login.paypal.com.evil.co.uk/a?b#c":
            ("https://login.paypal.com.evil.", "co.uk", "/a?b#c"),
        "https://user:pw@www.example.com:8443/x": ("https://user:pw@www.", "example.com",
                                                    ":8443/x"),
        "http://192.168.0.1/admin": ("http://", "192.168.0.1", "/admin"),
        "https://[2001:db8::1]/": ("https://", "[2001:db8::1]", "/"),
        "https://xn--pypal-4ve.com/": ("https://", "xn--pypal-4ve.com", "/"),
        "https://alice.github.io/p": ("https://", "alice.github.io", "/p"),
    }
    for url, (before, domain, after) in cases.items():
        parsed = parse_url(url)
        assert isinstance(parsed, ParsedUrl)
        split = destination(parsed)
        if url.startswith("https://login.paypal"):
            # The registrable domain is evil.co.uk: the whole eTLD+1 is marked.
            assert (split.before, split.domain) == ("https://login.paypal.com.", "evil.co.uk")
            continue
        assert (split.before, split.domain, split.after) == (before, domain, after), url
        assert split.before + split.domain + split.after == parsed.href
    idn = parse_url("https://xn--pypal-4ve.com/")
    assert isinstance(idn, ParsedUrl)
    assert destination(idn).unicode_host == "pаypal.com"


def test_visible_shows_invisible_characters() -> None:
    assert visible("plain text") == "plain text"
    assert visible("a\u202eb") == "a⟨U+202E⟩b"
    assert visible("x\u200by\x00z") == "x⟨U+200B⟩y⟨U+0000⟩z"
    assert visible("日本語") == "日本語"


def test_csrf_fields_bind_cookie_link_and_time() -> None:
    secret = b"s" * 32
    field = csrf_field(secret, "cookie", "tid", now=1_000_000)
    assert csrf_ok(secret, "cookie", field, "tid", now=1_000_100)
    assert not csrf_ok(secret, "other", field, "tid", now=1_000_100)
    assert not csrf_ok(secret, "cookie", field, "tid2", now=1_000_100)
    assert not csrf_ok(b"t" * 32, "cookie", field, "tid", now=1_000_100)
    assert not csrf_ok(secret, "cookie", field, "tid", now=1_000_000 + 3601)
    assert not csrf_ok(secret, "cookie", field, "tid", now=1_000_000 - 120)
    for bad in ("", "x", "1.", ".abc", "abc.def", "1" * 300, None):
        assert not csrf_ok(secret, "cookie", bad, "tid", now=1_000_100)
    assert not csrf_ok(secret, None, field, "tid", now=1_000_100)


def test_csp_and_origins() -> None:
    policy = csp(logo_origin="https://cdn.example", form_targets=("https://dest.example",))
    assert "img-src 'self' data: https://cdn.example" in policy
    assert "form-action 'self' https://dest.example" in policy
    assert origin_of("https://a.example:8443/x?y") == "https://a.example:8443"
    assert origin_of("https://u:p@a.example/") == "https://a.example"
    for bad in ("javascript:alert(1)", "https://a.example;script-src", "not a url", "//x",
                "https://a'b.example/"):
        assert origin_of(bad) is None, bad
