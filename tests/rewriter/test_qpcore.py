"""The compiled quoted-printable core (``_qpcore.pyx``) against the Python it stands in for.

``transfer.QuotedPrintable`` takes its line tables from ``_qpcore.physical_lines`` and
``transfer._encode_run`` its usual lines from ``_qpcore.wrap`` where the extension is built;
the plain build runs the Python below. The two must give the same bytes and offsets, so every
message is rewritten the same way by either build.
"""

from __future__ import annotations

import binascii
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkguard.rewriter.charset import ByteEdit
from linkguard.rewriter.transfer import (
    _IRREGULAR_EQUALS,
    QuotedPrintable,
    Splice,
    _encode_run,
    _longest_line_python,
    _physical_lines,
    _wrap,
)

_qpcore = pytest.importorskip(
    "linkguard.rewriter._qpcore", reason="the compiled quoted-printable core is not built"
)


def python_lines(body: bytes) -> tuple[list[int], list[int], bytes] | None:
    """What QuotedPrintable's Python path reads of a body: None where it is not regular."""
    if b"\0" in body or _IRREGULAR_EQUALS.search(body) is not None:
        return None
    return _physical_lines(body, 0, len(body), 0)


qp_pieces = st.lists(
    st.sampled_from([
        b"a", b" ", b"\t", b"=", b"3", b"D", b"d", b"f", b"g", b"\r", b"\n", b"\r\n", b"=\r\n",
        b"=\n", b"=3D", b"=3d", b"=C3=A9", b"=0", b"\0", b"\xff", b"_", b"x" * 80,
    ]),
    max_size=40,
).map(b"".join)


@settings(max_examples=3000, deadline=None)
@given(qp_pieces)
@example(b"")
@example(b"=")
@example(b"=\r")
@example(b"=\n")
@example(b"abc=\r\n")
@example(b"abc\n")
@example(b"abc")
@example(b"a=3D=\nb\r\nc=")
def test_line_tables_are_the_python_ones(body: bytes) -> None:
    assert _qpcore.physical_lines(body) == python_lines(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_line_tables_of_any_bytes(body: bytes) -> None:
    lines = _qpcore.physical_lines(body)
    assert lines == python_lines(body)
    if lines is not None:
        assert lines[2] == binascii.a2b_qp(body)


def test_line_tables_of_an_encoded_newsletter() -> None:
    rng = random.Random(5)  # noqa: S311 - test data, not secrets
    html = "".join(
        f'<p style="color:#333">{"word " * rng.randint(1, 60)}'
        f'<a href="https://x{i}.example/?a=1&b={rng.getrandbits(64):x}">é {i}</a></p>\n'
        for i in range(300)
    ).encode()
    for eol in (b"\n", b"\r\n"):
        body = binascii.b2a_qp(html).replace(b"\n", eol)
        lines = _qpcore.physical_lines(body)
        assert lines is not None
        assert lines == python_lines(body)
        assert lines[2] == binascii.a2b_qp(body)


plain_text = st.lists(
    st.sampled_from([b"a", b" ", b"\t", b".", b"=", b"~", b"x" * 40, b"y" * 73, b"==", b"=a",
                     b"\x7f", b"\n", b"\xe9", b"\0"]),
    max_size=20,
).map(b"".join)


@settings(max_examples=2000, deadline=None)
@given(plain_text, st.sampled_from([b"=\n", b"=\r\n"]))
@example(b"", b"=\n")
@example(b"x" * 74 + b"=", b"=\r\n")
def test_wrap_is_the_python_wrap(text: bytes, soft: bytes) -> None:
    printable = not text.translate(None, bytes([9, *range(32, 127)]))
    expected = _wrap(text.replace(b"=", b"=3D"), soft) if printable else None
    assert _qpcore.wrap(text, soft) == expected


@st.composite
def body_and_edits(draw: st.DrawFn) -> tuple[bytes, list[ByteEdit]]:
    """A regular quoted-printable body and sorted, disjoint, non-empty edits of its decoded
    text (as the scanners make them: each replaces a link)."""
    body = draw(qp_pieces.filter(lambda b: python_lines(b) is not None))
    decoded = binascii.a2b_qp(body)
    cuts = sorted(draw(st.lists(st.integers(0, len(decoded)), max_size=8)))
    edits = []
    # A link is never empty: each edit replaces at least one character.
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if end == start:
            continue
        data = draw(st.sampled_from([b"", b"x", b"https://lg.example/r/" + b"A" * 90, b"a=b",
                                     b"\xc3\xa9", b"line\r\nbreak", b"tail ", b"dot."]))
        edits.append(ByteEdit(start, end, data, None))
    return body, edits


@settings(max_examples=2000, deadline=None)
@given(body_and_edits(), st.integers(0, 500))
def test_runs_are_the_python_runs(case: tuple[bytes, list[ByteEdit]], at: int) -> None:
    body, edits = case
    qp = QuotedPrintable(body)
    lines = python_lines(body)
    assert lines is not None
    enc, dec, decoded = lines
    expected = qp._runs(enc, dec, edits, at)
    got = _qpcore.runs(body, enc, dec, decoded, edits, at, _encode_run, Splice)
    assert got == expected
    assert all(type(s) is Splice for s in got)


def test_runs_of_a_newsletter_link_per_line() -> None:
    html = b"".join(b'<p>%s <a href="https://x%d.example/?a=1">go</a></p>\n' % (b"w " * 50, i)
                    for i in range(100))
    body = binascii.b2a_qp(html).replace(b"\n", b"\r\n")
    lines = python_lines(body)
    assert lines is not None
    enc, dec, decoded = lines
    edits = []
    for i in range(100):
        url = b"https://x%d.example/?a=1" % i
        start = decoded.index(url)
        edits.append(ByteEdit(start, start + len(url), b"https://lg.example/r/" + b"B" * 120,
                              None))
    expected = QuotedPrintable(body)._runs(enc, dec, edits, 7)
    assert _qpcore.runs(body, enc, dec, decoded, edits, 7, _encode_run, Splice) == expected
    assert len(expected) == 100


@pytest.mark.parametrize("edit", [ByteEdit(5, 99, b"x", None), ByteEdit(6, 6, b"x", None)])
def test_an_edit_outside_the_text_is_refused_as_the_python_path_refuses_it(
    edit: ByteEdit,
) -> None:
    body = b"ab=\ncd\n"  # decodes to "abcd\n": 5 bytes, lines start at 0, 2, 5
    lines = python_lines(body)
    assert lines is not None
    enc, dec, decoded = lines
    with pytest.raises(IndexError):
        QuotedPrintable(body)._runs(enc, dec, [edit], 0)
    with pytest.raises(IndexError):
        _qpcore.runs(body, enc, dec, decoded, [edit], 0, _encode_run, Splice)


@pytest.mark.parametrize("edits", [
    [ByteEdit(1, 3, b"x", None), ByteEdit(2, 4, b"y", None)],  # overlapping
    [ByteEdit(3, 4, b"x", None), ByteEdit(0, 1, b"y", None)],  # out of order
])
def test_edits_that_are_not_sorted_and_disjoint_are_refused(edits: list[ByteEdit]) -> None:
    body = b"abcdef\n"
    lines = python_lines(body)
    assert lines is not None
    enc, dec, decoded = lines
    with pytest.raises(ValueError, match="overlap or are out of order"):
        _qpcore.runs(body, enc, dec, decoded, edits, 0, _encode_run, Splice)


def test_edits_of_another_shape_are_refused() -> None:
    body = b"abcdef\n"
    lines = python_lines(body)
    assert lines is not None
    enc, dec, decoded = lines
    for edits in ([(1, 2)], [(1, 2, "text")], [[1, 2, b"x"]]):
        with pytest.raises(TypeError):
            _qpcore.runs(body, enc, dec, decoded, edits, 0, _encode_run, Splice)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\r\r\n", b"x" * 1000, b" "]),
                max_size=20).map(b"".join))
@example(b"")
@example(b"\r")
@example(b"abc\r")
def test_longest_line_is_the_python_one(data: bytes) -> None:
    assert _qpcore.longest_line(data) == _longest_line_python(data)
