"""The compiled link tokenizer (``_htmlcore.pyx``) against the Python it stands in for.

``html.scan_html`` reads link attributes with ``_htmlcore.links`` where the extension is
built and with ``html._python_links`` (the regular expressions of html.py) in the plain build.
Both must find the same attributes at the same offsets, so either build rewrites a message to
the same bytes. Offsets are checked on text of each of CPython's string widths (one, two and
four bytes a character), which the compiled reader walks separately.
"""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkguard.rewriter.html import _PAIRS, _python_links
from tests.rewriter.rewriter_testkit import CORPUS, eml_files

_htmlcore = pytest.importorskip(
    "linkguard.rewriter._htmlcore", reason="the compiled HTML tokenizer is not built"
)

_PIECES = [
    "<", ">", '"', "'", "=", " ", "/", "\n", "\t", "\f", "\r", "a", "A", "x", "!", "-", "?",
    "<a ", "<A\n", "<a>", "</a>", "<a/", "<!--", "-->", "--!>", "--", "<!-->", "<!--->",
    "<!x>", "<?x>", "</>", "</1>", "</ a>", "<script>", "</script>", "</SCRIPT ", "<style>",
    "</style/", "<title>", "</title>", "<textarea>", "</textarea>", "<xmp>", "</xmp>",
    "<plaintext>", "<iframe ", "</iframe>", "<noembed>", "<noframes>", "</noframes>",
    "href", "HREF", "hRef=", "xlink:href", "xlin\u212a:href", "action", "act\u0131on",
    "formaction", "FormAction", "<area ", "<form ", "<FORM>", "<button ", "<input ",
    "<base ", "<abbr ", "<p ", "&amp;", "'x'", '"y"', "=http://h.example/",
    "\u00e9", "\u0100", "\U0001f600", "\u0130", "<\u212a", "\x00",
]


@settings(max_examples=4000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
@example('<a href="http://x.example/" style="a">x</a>')
@example("<a href=x><a href='y' href=\"z\" title=q href=>")
@example("<script><a href=x></script ><a href=y>")
@example("<SCRIPT><a href=x></scRipt\n><a href=y>")
@example("<a href=x")
@example("<a href='x>")
@example("<!-- <a href=x> --!><a href=y><!--><a href=z><!---><a href=w>")
@example("<form action=a><FORM ACTION=b><button formaction=c><input formaction=d>")
@example("<svg><a xlin\u212a:href=k></svg>")
def test_compiled_links_agree_with_the_regular_expressions(text: str) -> None:
    assert _htmlcore.links(text) == _python_links(text)


def test_pairs_are_the_python_pairs() -> None:
    assert _htmlcore.PAIRS == _PAIRS


@pytest.mark.parametrize("wide", ["", "\u0100", "\U0001f600"])
def test_offsets_in_every_string_width(wide: str) -> None:
    text = f'{wide}<p title="{wide}"><a href="http://{wide}.example/" x=1>{wide}</a>'
    found, forms = _htmlcore.links(text)
    assert (found, forms) == _python_links(text)
    (pair, value, start, end, quote, body, tag_end), = found
    assert _PAIRS[pair] == ("a", "href")
    assert text[start:end] == value == f"http://{wide}.example/"
    assert quote == '"'
    assert text[tag_end - 1] == ">"
    assert text[body - 2 : body] == "<a"


def test_unclosed_tag_and_raw_text_end_the_scan() -> None:
    cut = '<a href="x">y</a><a href="z'
    assert _htmlcore.links(cut) == _python_links(cut)
    assert len(_htmlcore.links(cut)[0]) == 1
    assert _htmlcore.links("<title><a href=x>") == ([], 0)
    assert _htmlcore.links("<plaintext><a href=x>") == ([], 0)


def test_refuses_what_is_not_a_string() -> None:
    with pytest.raises(TypeError):
        _htmlcore.links(b"<a href=x>")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _htmlcore.links(None)  # type: ignore[arg-type]


def _html_parts() -> list[str]:
    parts = []
    for path in eml_files(CORPUS) if CORPUS.is_dir() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for part in msg.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    parts.append(payload.decode("utf-8", "replace"))
    return parts


@pytest.mark.data
def test_sample_mail_reads_the_same() -> None:
    parts = _html_parts()
    if not parts:
        pytest.skip("the public sample mail is not beside the project")
    for text in parts:
        assert _htmlcore.links(text) == _python_links(text)
