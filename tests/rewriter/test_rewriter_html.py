"""The HTML link finder: tokenizer cases from the WHATWG HTML Standard §13.2.5, tables first."""

from __future__ import annotations

import html as html_module

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkguard.rewriter.html import (
    _A_BOUNDARY,
    _LINK_ATTRS,
    _LINK_TAGS,
    _STRIP_MARKUP,
    _destination,
    _link_attrs,
    _tags,
    display_text,
    escape_attribute,
    iter_start_tags,
    scan_html,
    unescape_attribute,
)
from linkguard.rewriter.links import NO_REGIONS, LinkBook, Regions, browser_url, http_url
from linkguard.rewriter.model import LinkPlace
from tests.rewriter.rewriter_testkit import TOKEN, FakeSealer, context, open_token


def links(html: str) -> list[str]:
    """The URLs the scanner hands to the sealer, in order."""
    sealer = FakeSealer()
    scan_html(html, LinkBook(context(sealer)), NO_REGIONS, display_limit=200)
    return [url for url, _, _ in sealer.calls]


def rewrite(html: str) -> str:
    edits = scan_html(html, LinkBook(context()), NO_REGIONS, display_limit=200)
    out, pos = [], 0
    for edit in edits:
        out += [html[pos : edit.start], edit.text]
        pos = edit.end
    return "".join([*out, html[pos:]])


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="http://x.example/">x</a>', ["http://x.example/"]),
        ("<A HREF='HTTPS://X.EXAMPLE/P'>x</A>", ["HTTPS://X.EXAMPLE/P"]),
        ("<a href=http://x.example/?a=1&amp;b=2>x</a>", ["http://x.example/?a=1&b=2"]),
        ('<a href = "http://spaced.example/" >x</a>', ["http://spaced.example/"]),
        ('<a\nhref\n=\n"http://newlines.example/">x</a>', ["http://newlines.example/"]),
        ('<a/href="http://slash.example/">x</a>', ["http://slash.example/"]),
        ('<a href="  http://pad.example/ ">x</a>', ["http://pad.example/"]),
        ('<a href="ht\ntp://split.example/">x</a>', ["http://split.example/"]),
        (
            '<a href="http://a.example/"href="http://b.example/">x</a>',
            ["http://a.example/", "http://b.example/"],
        ),
        ('<area href="http://area.example/" alt="A">', ["http://area.example/"]),
        ('<form action="https://post.example/">', ["https://post.example/"]),
        ('<button formaction="https://b.example/">', ["https://b.example/"]),
        ('<svg><a xlink:href="https://svg.example/">s</a></svg>', ["https://svg.example/"]),
        ('<a href="//scheme-relative.example/x">x</a>', ["https://scheme-relative.example/x"]),
        # left alone: not http(s), not a link attribute, not a clickable element
        ('<a href="mailto:a@b.example">m</a><a href="tel:+1">t</a><a href="#top">t</a>', []),
        ('<a href="cid:logo@x">c</a><a href="javascript:alert(1)">j</a>', []),
        ('<img src="http://img.example/a.png"><link href="http://css.example/">', []),
        ('<a title="http://title-attr.example/">t</a>', []),
        ('<a href="relative/page.html">r</a><a href="">e</a>', []),
        # comments, raw text and bogus comments hide markup (§13.2.5.43, §13.2.2)
        ('<!-- <a href="http://c.example/"> -->', []),
        ('<!--> <a href="http://after.example/">', ["http://after.example/"]),
        ('<!---> <a href="http://after2.example/">', ["http://after2.example/"]),
        ('<!-- x --!> <a href="http://bang.example/">', ["http://bang.example/"]),
        (
            '<script>"<a href=\'http://s.example/\'>"</script><a href="http://o.example/">',
            ["http://o.example/"],
        ),
        ('<style>a[href="http://st.example/"]{}</style>', []),
        ('<title><a href="http://t.example/"></title>', []),
        ('<textarea><a href="http://ta.example/"></textarea>', []),
        ('<SCRIPT>x</SCRIPT ><a href="http://u.example/">', ["http://u.example/"]),
        ('<script>x</ſcript><a href="http://ascii-only.example/">', []),
        ('<noscript><a href="http://ns.example/">n</a></noscript>', ["http://ns.example/"]),
        ('<!DOCTYPE html><?xml x?><a href="http://d.example/">', ["http://d.example/"]),
        ('</div title=">"><a href="http://end.example/">', ["http://end.example/"]),
        ('<plaintext><a href="http://plain.example/">', []),
        # quoting as the tokenizer sees it, not as a naive regex would
        ('<div x=a"b><a href="http://q1.example/">', ["http://q1.example/"]),
        ('<div ="x><a href=http://q2.example/>">', ["http://q2.example/"]),
        ('<div title="a > b"><a href="http://q3.example/">', ["http://q3.example/"]),
        ('<div title="<!--"><a href="http://q4.example/"> -->', ["http://q4.example/"]),
        ("<div title='<script>'><a href=\"http://q5.example/\">", ["http://q5.example/"]),
        # an unclosed quote runs to the end: the tag is dropped (eof-in-tag)
        ('<a href="http://unclosed.example/>x</a>', []),
        ('<a href="http://ok.example/">x</a><a href="http://cut.example/', ["http://ok.example/"]),
        # legacy references (§13.2.5.73): no ";" and followed by "=" or alnum stays as written
        ('<a href="http://x.example/?a=1&copy=2&amp;c">x</a>', ["http://x.example/?a=1&copy=2&c"]),
        ('<a href="http://x.example/&#x41;&#66;&lt;">x</a>', ["http://x.example/AB<"]),
    ],
)
def test_links_found(html: str, expected: list[str]) -> None:
    assert links(html) == expected


def test_base_href_resolves_relative_links() -> None:
    html = '<base href="https://base.example/d/"><a href="p.html">p</a><a href="#x">x</a>'
    assert links(html) == ["https://base.example/d/p.html"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a&amp;b", "a&b"),
        ("a&amp;amp;b", "a&amp;b"),
        ("&lt;&gt;&quot;", '<>"'),
        ("?a=1&copy=2", "?a=1&copy=2"),
        ("?a=1&copy;=2", "?a=1©=2"),
        ("x&copy y", "x© y"),
        ("&notit;", "&notit;"),
        ("&noti", "&noti"),
        ("&not ", "¬ "),
        ("&#104;&#x74;&#X74;p", "http"),
        ("&#0;", "\ufffd"),
        ("&#x80;", "€"),
        ("&unknown;", "&unknown;"),
    ],
)
def test_unescape_attribute(value: str, expected: str) -> None:
    assert unescape_attribute(value) == expected


@pytest.mark.parametrize(
    ("value", "quote", "expected"),
    [
        ("https://x/?a=1&b=2", '"', "https://x/?a=1&amp;b=2"),
        ('a"b', '"', "a&quot;b"),
        ("a'b", "'", "a&#39;b"),
        ("a'b\"c", "'", 'a&#39;b"c'),
        ("a=b>c`", "", "a&#61;b&#62;c&#96;"),
    ],
)
def test_escape_attribute(value: str, quote: str, expected: str) -> None:
    assert escape_attribute(value, quote) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<a href=x>Click <b>here</b></a>", "Click here"),
        ("<a href=x>  many\n\t spaces  </a>", "many spaces"),
        ("<a href=x>Tom &amp; Jerry</a>", "Tom & Jerry"),
        ("<a href=x><img src=a.png></a>", None),
        ("<a href=x>no end <a href=y>next</a>", "no end"),
        ("<a href=x>a<!-- hidden -->b</a>", "a b"),
    ],
)
def test_display_text(html: str, expected: str | None) -> None:
    end = html.index(">") + 1
    assert display_text(html, end, 200) == expected


def test_display_text_is_truncated_and_passed_to_the_sealer() -> None:
    sealer = FakeSealer()
    html = f'<a href="http://x.example/">{"word " * 100}</a>'
    scan_html(html, LinkBook(context(sealer)), NO_REGIONS, display_limit=20)
    assert sealer.calls == [("http://x.example/", "word word word word", 0)]


def test_only_link_values_change() -> None:
    html = (
        '<P CLASS=x>Hi <A  HREF = "http://x.example/?a=1&amp;b=2"  TARGET=_blank>x</A>\n'
        "<a href=http://y.example/ id=u>y</a><a href='http://z.example/'>z</a></P>"
    )
    out = rewrite(html)
    assert [open_token(t) for t in TOKEN.findall(out)] == [
        "http://x.example/?a=1&b=2",
        "http://y.example/",
        "http://z.example/",
    ]
    assert TOKEN.sub("T", out) == (
        '<P CLASS=x>Hi <A  HREF = "T"  TARGET=_blank>x</A>\n'
        "<a href=T id=u>y</a><a href='T'>z</a></P>"
    )


def test_forms_are_counted_and_reported() -> None:
    book = LinkBook(context())
    scan_html(
        '<form action="https://f.example/"></form><form></form>', book, NO_REGIONS, display_limit=9
    )
    assert book.forms == 2
    assert [link.place for link in book.links] == [LinkPlace.HTML_FORM]


def test_regions_are_skipped() -> None:
    html = '<a href="http://in.example/">a</a><a href="http://out.example/">b</a>'
    book = LinkBook(context())
    scan_html(html, book, Regions([(0, 20)]), display_limit=9)
    assert [link.url for link in book.links] == ["http://out.example/"]


_PIECES = [
    "<",
    ">",
    '"',
    "'",
    "=",
    " ",
    "/",
    "\n",
    "a",
    "A",
    "x",
    "!",
    "-",
    "?",
    "<a ",
    "<a>",
    "</a>",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "<title>",
    "</title>",
    "href=",
    "<abbr ",
    "<p ",
    "<!-->",
    "<area ",
    "</",
    "<base ",
    "<form ",
    "&amp;",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_fast_skipping_finds_the_same_tags(text: str) -> None:
    """The one-regex skip over uninteresting markup agrees with the step-by-step tokenizer."""
    wanted = _LINK_TAGS | {"base"}
    slow = [t for t in iter_start_tags(text) if t.name in wanted]
    fast = [t for t in iter_start_tags(text, wanted) if t.name in wanted]
    assert fast == slow


def reference_link_attrs(html: str) -> list[tuple[str, str, str, int, int, str]]:
    """Link attributes as the step-by-step tokenizer reads them: every tag, every attribute."""
    return [
        (tag.name, attr.name, attr.value, attr.start, attr.end, attr.quote)
        for tag in iter_start_tags(html)
        for attr in tag.attrs
        if (tag.name, attr.name) in _LINK_ATTRS
    ]


def fast_link_attrs(html: str) -> list[tuple[str, str, str, int, int, str]]:
    """Link attributes as scan_html reads them: skipped markup, one-candidate look-ahead."""
    found = []
    for tag in _tags(html, _LINK_TAGS):
        if tag[0] in _LINK_TAGS:
            found += [
                (tag[0], name, value, start, end, quote)
                for name, value, start, end, quote, _ in _link_attrs(html, tag)
            ]
    return found


@pytest.mark.parametrize(
    "html",
    [
        '<a href="http://x.example/" style="color:red">x</a>',
        "<a style=\"color:red\" href='http://x.example/' target=_blank>x</a>",
        "<a href=http://x.example/>x</a><a href= >y</a><a href>z</a>",
        # two link attributes, with and without white space between them
        '<a href="http://a.example/"href="http://b.example/">x</a>',
        '<a href="http://a.example/" xlink:href="http://b.example/">x</a>',
        # a value that looks like attributes must not be read as them
        '<a title="x href=http://evil.example/" href="http://ok.example/">',
        "<a title='href=\"http://evil.example/\"'>",
        '<a title=x"href="http://evil.example/">',
        '<a ="x href=http://evil.example/">',
        '<a x= href=http://y.example/ z=">">',
        # names: the tokenizer lower-cases ASCII; Kelvin sign K lowers to "k", dotless ı does not
        '<A HREF="http://upper.example/">',
        '<svg><a xlin\u212a:href="http://kelvin.example/">',
        '<form act\u0131on="http://dotless.example/"><a hrefx="http://x.example/">',
        '<a action="http://not-on-a.example/"><form href="http://not-on-form.example/">',
        '<form action="https://f.example/"><button formaction=https://b.example/>',
        '<input type=submit formaction="https://i.example/" formaction="https://j.example/">',
        '<area alt="Map" href="https://area.example/"><area href>',
        # tags that do not close are read step by step, or dropped
        '<a href="http://ok.example/">x</a><a href="http://cut.example/',
        '<a href="http://ok.example/" title="unclosed>',
        '<a href="x"/><a/href="http://slash.example/"/>',
        "<a\nhref\n=\n'http://nl.example/'\n>",
    ],
)
def test_fast_link_reading_agrees_with_the_tokenizer(html: str) -> None:
    assert fast_link_attrs(html) == reference_link_attrs(html)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*_PIECES, "href", "HREF", "action", "'x'", '"y"']), max_size=24))
def test_fast_link_reading_agrees_on_generated_markup(pieces: list[str]) -> None:
    html = "".join(pieces)
    assert fast_link_attrs(html) == reference_link_attrs(html)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<a href=x>no\u00a0break\u2003em\x1fsep</a>", "no break em sep"),  # all str.isspace
        ("<a href=x>\u200bzero width</a>", "\u200bzero width"),  # not white space
        ("<a href=x>&nbsp;Tom&nbsp;</a>", "Tom"),  # decoded first, then collapsed
    ],
)
def test_display_text_collapses_unicode_white_space(html: str, expected: str) -> None:
    end = html.index(">") + 1
    assert display_text(html, end, 200) == expected


_URL_PIECES = ["https://", "http://", "HTTP://", "&amp;", "&", "&copy", "&lt;", "&amp", " ", "\t"]
_URL_PIECES += ["\n", "\x7f", "\x00", "é", "\udcff", "a", "/", "#", "//", "x=1", "?", "~"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_URL_PIECES), max_size=10).map("".join))
def test_the_usual_link_is_read_as_every_step_reads_it(value: str) -> None:
    """_destination's shortcut for a plain http(s) token agrees with the full steps."""
    url = browser_url(unescape_attribute(value))
    absolute = http_url(url)
    if absolute is None and url[:2].replace("\\", "/") == "//":
        absolute = http_url("https:" + url)
    assert _destination(value, lambda: None) == absolute


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.sampled_from(["x", " ", "\u00a0", "&amp;", "<b>", "</a>", "</A >"]), max_size=12)
)
def test_display_text_shortcut_agrees_with_the_boundary_search(pieces: list[str]) -> None:
    """Text without markup or references up to "</a>" reads as the general way reads it."""
    html = '<a href="x">' + "".join(pieces)
    end = html.index(">") + 1
    m = _A_BOUNDARY.search(html, end)
    inner = _STRIP_MARKUP.sub(" ", html[end : m.start() if m else len(html)])
    expected = " ".join(html_module.unescape(inner).split())[:7].rstrip() or None
    assert display_text(html, end, 7) == expected
