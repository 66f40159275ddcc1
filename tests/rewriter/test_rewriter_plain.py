"""URLs in plain text as mail clients linkify them, and PGP armor left alone."""

from __future__ import annotations

import pytest

from linkguard.rewriter.armor import armor_regions
from linkguard.rewriter.links import NO_REGIONS, LinkBook
from linkguard.rewriter.plain import find_urls, scan_plain, trim_url
from tests.rewriter.rewriter_testkit import FakeSealer, context


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see http://x.example/a.", ["http://x.example/a"]),
        ("see https://x.example/a, and", ["https://x.example/a"]),
        ("(http://x.example/a)", ["http://x.example/a"]),
        ("(http://x.example/wiki/A_(b))", ["http://x.example/wiki/A_(b)"]),
        ("http://x.example/wiki/A_(b)).", ["http://x.example/wiki/A_(b)"]),
        ("[http://x.example/a]", ["http://x.example/a"]),
        ("http://x.example/?q=[1]", ["http://x.example/?q=[1]"]),
        ("'http://x.example/q'", ["http://x.example/q"]),
        ('"http://x.example/q"!?', ["http://x.example/q"]),
        ("<http://x.example/angle>", ["http://x.example/angle"]),
        ("<URL:http://x.example/old-style>", ["http://x.example/old-style"]),
        ("go to www.x.example/path; now", ["http://www.x.example/path"]),
        ("WWW.X.EXAMPLE", ["http://WWW.X.EXAMPLE"]),
        ("HTTPS://X.EXAMPLE/", ["HTTPS://X.EXAMPLE/"]),
        ("a http://x.example/a*b* c", ["http://x.example/a*b"]),
        ("http://x.example/a.b.c...", ["http://x.example/a.b.c"]),
        ("https://[2001:db8::1]/x", ["https://[2001:db8::1]/x"]),
        ("https://köln.example/straße — weiter", ["https://köln.example/straße"]),
        ("日本語https://jp.example/pageです。", ["https://jp.example/page"]),
        ("x https://a.example/\u00a0b", ["https://a.example/"]),
        ("two: http://a.example/ http://b.example/", ["http://a.example/", "http://b.example/"]),
        # not links
        ("mail me at bob@www.x.example", []),
        ("http:// alone, https:/x, www.x, xhttp://y.example/", []),
        ("ftp://files.example/ and mailto:x@y.example", []),
        ("see.www.x.example and sub.www.y.example", []),
    ],
)
def test_find_urls(text: str, expected: list[str]) -> None:
    assert [url for _, _, url in find_urls(text)] == expected


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("http://x/a.", "http://x/a"),
        ("http://x/a.,;:!?'\"*", "http://x/a"),
        ("http://x/(a)", "http://x/(a)"),
        ("http://x/a)", "http://x/a"),
        ("http://x/a))", "http://x/a"),
        ("http://x/(a))", "http://x/(a)"),
        ("http://x/a]", "http://x/a"),
        ("http://x/a).", "http://x/a"),
    ],
)
def test_trim_url(candidate: str, expected: str) -> None:
    assert trim_url(candidate) == expected


def test_www_source_is_replaced_by_a_full_link() -> None:
    text = "Visit www.shop.example."
    edits = scan_plain(text, LinkBook(context()), NO_REGIONS)
    [edit] = edits
    assert text[edit.start : edit.end] == "www.shop.example"
    assert edit.links[0].url == "http://www.shop.example"
    assert edit.text.startswith("https://lg.test/r/")


def test_declined_links_make_no_edit() -> None:
    sealer = FakeSealer()
    book = LinkBook(context(sealer))
    edits = scan_plain("a https://decline.example/x b http://ok.example/", book, NO_REGIONS)
    assert [e.links[0].url for e in edits] == ["http://ok.example/"]
    assert [link.url for link in book.links] == ["https://decline.example/x", "http://ok.example/"]
    assert [index for _, _, index in sealer.calls] == [0, 1]


CLEARSIGNED = """Before https://before.example/
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Signed https://signed.example/
-----BEGIN PGP SIGNATURE-----

abc
-----END PGP SIGNATURE-----
After https://after.example/
-----BEGIN PGP MESSAGE-----
https://ciphertext.example/
"""


def test_armor_regions_cover_signed_text_and_unterminated_blocks() -> None:
    regions = armor_regions(CLEARSIGNED)
    book = LinkBook(context())
    edits = scan_plain(CLEARSIGNED, book, regions)
    assert [e.links[0].url for e in edits] == ["https://before.example/", "https://after.example/"]


def test_no_armor_no_regions() -> None:
    assert not armor_regions("-----BEGIN PGP is only mentioned here")
