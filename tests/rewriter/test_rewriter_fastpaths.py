"""The rewriter's shortcuts write exactly what the plain way of doing the same thing writes.

Each shortcut exists only for speed (bench/rewrite.py); each test here puts it beside a plain
reference kept in this file — the code it replaced, or the rule it stands for — on generated
input that reaches the corners (an "=3D" cut at a line end, markup that ends a run, a record
changed after it was made).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkguard.rewriter import LinkOutcome, LinkPlace, LinkRecord, RewriteContext, rewrite_message
from linkguard.rewriter.html import _NEXT, _RAW_TEXT, _TAG_BODY, _next_markup
from linkguard.rewriter.links import Edit, LinkBook, _record, relocate
from linkguard.rewriter.transfer import _IRREGULAR_EQUALS, _wrap
from tests.rewriter.rewriter_testkit import MESSAGES, FakeSealer, context, eml_files

# --- quoted-printable: wrapping a plain run -------------------------------------------------


def reference_wrap(escaped: bytes, soft: bytes) -> bytes:
    """The loop _wrap replaced: fill 75 characters, give back an "=3D" cut at the end."""
    lines: list[bytes] = []
    pos = 0
    size = len(escaped)
    while size - pos > 75:
        cut = pos + 75
        if escaped[cut - 1] == 61:
            cut -= 1
        elif escaped[cut - 2] == 61:
            cut -= 2
        lines.append(escaped[pos:cut])
        pos = cut
    lines.append(escaped[pos:])
    return soft.join(lines) + soft


plain_text = st.lists(
    st.sampled_from([b"a", b" ", b"\t", b".", b"=", b"~", b"x" * 40, b"y" * 73, b"==", b"=a"]),
    max_size=20,
).map(b"".join)


@settings(max_examples=800, deadline=None)
@given(plain_text, st.sampled_from([b"=\n", b"=\r\n"]))
def test_wrap_cuts_lines_where_the_loop_cut_them(text: bytes, soft: bytes) -> None:
    escaped = text.replace(b"=", b"=3D")
    assert _wrap(escaped, soft) == reference_wrap(escaped, soft)


# --- quoted-printable: which bodies are regular ---------------------------------------------

_PLAIN_IRREGULAR = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n)")


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from([b"=", b"3", b"D", b"d", b"g", b"\r", b"\n", b"a"]), max_size=12))
def test_irregular_equals_are_those_a2b_qp_keeps(pieces: list[bytes]) -> None:
    """The reordered pattern (usual cases first) finds the same "=" signs as the plain one."""
    body = b"".join(pieces)
    fast = [m.start() for m in _IRREGULAR_EQUALS.finditer(body)]
    assert fast == [m.start() for m in _PLAIN_IRREGULAR.finditer(body)]


# --- HTML: skipping markup ------------------------------------------------------------------


def reference_next_markup(wanted: frozenset[str]) -> re.Pattern[str]:
    """The skipping pattern with one turn per piece of text or markup, start tags first."""
    stop = "|".join(sorted(wanted | _RAW_TEXT | {"plaintext"}, key=len, reverse=True))
    return re.compile(
        r"(?:[^<]++"
        r"|<(?![A-Za-z/!?])"
        rf"|<(?!(?i:{stop})(?:[\t\n\f\r />]|\Z))[A-Za-z][^\t\n\f\r />]*+{_TAG_BODY}"
        rf"|</[A-Za-z][^\t\n\f\r />]*+{_TAG_BODY}"
        r"|<!--(?>>|->|(?s:.*?)--!?>)"
        r"|<!(?!--)[^>]*+>|<\?[^>]*+>|</(?![A-Za-z])[^>]*+>"
        r")*+" + _NEXT.pattern,
        re.ASCII,
    )


_MARKUP = [
    "text ",
    "<",
    ">",
    "<a href='x'>",
    "<A HREF=x>",
    "</a>",
    "</td >",
    "<td style=\"a>b\">",
    "<p title='<a href=x>'>",
    '<b x="unclosed>',
    "<!-- c -->",
    "<!-->",
    "<!--",
    "<!doctype html>",
    "<?php ?>",
    "</>",
    "</ 1>",
    "<script>",
    "</script>",
    "<area href=y>",
    "<form action=z>",
    "<plaintext>",
    "< a>",
    "<\u017fcript>",
    "&amp;",
    "\n",
]
_WANTED = [frozenset({"a", "area", "form", "button", "input"}), frozenset({"base"})]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_MARKUP), max_size=20).map("".join), st.sampled_from(_WANTED))
def test_skipping_text_with_each_tag_matches_what_one_turn_each_matched(
    html: str, wanted: frozenset[str]
) -> None:
    fast, slow = _next_markup(wanted), reference_next_markup(wanted)
    for pos in range(len(html) + 1):
        a, b = fast.match(html, pos), slow.match(html, pos)
        assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups())), pos


# --- link records ---------------------------------------------------------------------------

_TOKEN = re.compile(r"[\x21-\x7e]+")  # the rule: one token of printable ASCII


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(["a", "/", " ", "\t", "\x7f", "\x00", "é", "~", "!", "\u3000"])))
def test_a_replacement_is_taken_exactly_when_it_is_one_printable_ascii_token(
    replacement: str,
) -> None:
    def sealer(url: str, *, display_text: str | None, index: int) -> str | None:
        del url, display_text, index
        return replacement

    book = LinkBook(RewriteContext(sealer=sealer))
    link = book.seal("http://x.example/", "http://x.example/", LinkPlace.TEXT)
    if replacement == "http://x.example/":
        expected = LinkOutcome.DECLINED
    elif _TOKEN.fullmatch(replacement):
        expected = LinkOutcome.REWRITTEN
    else:
        expected = LinkOutcome.BAD_REPLACEMENT
    assert link.outcome is expected
    assert link.replacement == (replacement if expected is LinkOutcome.REWRITTEN else None)


def test_a_record_changed_in_place_equals_one_made_that_way() -> None:
    """drop() and relocate() change a record before the report is out; the result must be
    the record the constructor makes, hash included (a frozen dataclass hashes its fields)."""
    book = LinkBook(context())
    book.part = "1.2"
    link = book.seal("https://a.example/", "x", LinkPlace.HTML_A, "shown")
    Edit(0, 1, "y", (link,)).drop(LinkOutcome.UNENCODABLE)
    relocate(link, LinkPlace.CALENDAR, "value")
    made = LinkRecord(
        "1.2", LinkPlace.CALENDAR, "https://a.example/", "value", None,
        LinkOutcome.UNENCODABLE, "shown",
    )
    assert link == made
    assert hash(link) == hash(made)
    assert book.links == [made]


@pytest.mark.parametrize("path", eml_files(MESSAGES), ids=lambda p: p.name)
def test_header_counts_are_the_reports_counts(path: object) -> None:
    """The header is counted in one pass; the report's properties count the same links."""
    raw = path.read_bytes()  # type: ignore[attr-defined]
    _, report = rewrite_message(raw, context(FakeSealer(decline_every=3)))
    if report.passthrough is None:
        counts = f"rewritten={report.rewritten + report.already_sealed}; skipped={report.skipped}"
        assert report.header.startswith(counts)


@pytest.mark.parametrize(
    "values",
    [
        ("1", LinkPlace.HTML_A, "https://a.example/", "x", "https://lg/r/T", LinkOutcome.REWRITTEN,
         "shown"),
        ("2.1", LinkPlace.TEXT, "http://b.example/", "b", None, LinkOutcome.DECLINED, None),
        ("", LinkPlace.CALENDAR, "u", "", None, LinkOutcome.ALREADY_SEALED, ""),
    ],
)
def test_a_record_built_through_its_slots_is_the_one_the_constructor_builds(
    values: tuple[object, ...],
) -> None:
    made = LinkRecord(*values)  # type: ignore[arg-type]
    fast = _record(*values)  # type: ignore[arg-type]
    assert type(fast) is LinkRecord
    assert fast == made
    assert hash(fast) == hash(made)
    assert dataclasses.astuple(fast) == values
    # _record skips __init__: it holds only while LinkRecord's __init__ just stores its fields.
    assert not hasattr(LinkRecord, "__post_init__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.url = "changed"  # type: ignore[misc]
