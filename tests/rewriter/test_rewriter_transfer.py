"""Transfer encodings (RFC 2045 §6): decode like the stdlib, re-encode only what changed."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkguard.rewriter.charset import ByteEdit
from linkguard.rewriter.transfer import (
    Base64,
    QuotedPrintable,
    _encode_run,
    apply,
    normalize_cte,
    qp_encode,
)

_QP_PIECES = [
    b"a",
    b" ",
    b"\t",
    b"=",
    b"=\n",
    b"=\r\n",
    b"\r",
    b"\n",
    b"\r\n",
    b"=0A",
    b"=3D",
    b"=3d",
    b"==",
    b"=\r",
    b"=Z",
    b"x" * 30,
    b"=E9" * 9,
    b"\xe9",
    b".",
]
qp_bodies = st.lists(st.sampled_from(_QP_PIECES), max_size=14).map(b"".join)
raw_bytes = st.lists(
    st.sampled_from([b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b"=", b".", b"\xe9", b"x" * 40]),
    max_size=14,
).map(b"".join)


def spliced(body: bytes, codec: QuotedPrintable | Base64, edits: list[ByteEdit]) -> bytes:
    out = body
    for s in sorted(codec.splices(edits), key=lambda s: s.start, reverse=True):
        out = out[: s.start] + s.data + out[s.end :]
    return out


def lines(encoded: bytes) -> list[bytes]:
    return encoded.replace(b"\r\n", b"\n").split(b"\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (" Quoted-Printable ", "quoted-printable"),
        ("BASE64", "base64"),
        ("7bits", "7bit"),
        ("8 bit", "8bit"),
        ("7-bit", "7bit"),
        ('"binary"', "binary"),
        ("x-uuencode", "x-uuencode"),
    ],
)
def test_normalize_cte(value: str | None, expected: str) -> None:
    assert normalize_cte(value) == expected


@settings(max_examples=400, deadline=None)
@given(raw_bytes, st.sampled_from([b"\n", b"\r\n"]))
def test_qp_encode_round_trips_within_76(data: bytes, eol: bytes) -> None:
    encoded = qp_encode(data, eol)
    assert binascii.a2b_qp(encoded) == data
    assert all(len(line) <= 76 for line in lines(encoded))
    assert not any(line.endswith((b" ", b"\t")) for line in lines(encoded))  # rule 3


@settings(max_examples=400, deadline=None)
@given(qp_bodies)
def test_qp_decodes_like_the_stdlib(body: bytes) -> None:
    assert QuotedPrintable(body).decoded == binascii.a2b_qp(body)


@settings(max_examples=400, deadline=None)
@given(qp_bodies, st.data())
def test_qp_splices_change_only_the_edited_text(body: bytes, data: st.DataObject) -> None:
    codec = QuotedPrintable(body)
    size = len(codec.decoded)
    edits: list[ByteEdit] = []
    pos = 0
    while pos < size and len(edits) < 3:
        start = data.draw(st.integers(pos, size - 1))
        end = data.draw(st.integers(start + 1, min(size, start + 12)))
        new = data.draw(st.sampled_from([b"", b"https://lg.test/r/abc", b"=" * 5, b"\xe9 " * 40]))
        edits.append(ByteEdit(start, end, new, None))
        pos = end
    out = spliced(body, codec, edits)
    assert binascii.a2b_qp(out) == apply(codec.decoded, edits)
    old_lines = set(lines(body))
    assert all(len(line) <= 76 or line in old_lines for line in lines(out))


def test_qp_keeps_untouched_lines_and_soft_breaks() -> None:
    body = (
        b"first line with a soft=\r\nbreak that stays\r\n"
        b'<a href=3D"https://x.example/very/long/path/that/wraps/over/the/line/le=\r\n'
        b'ngth/limit/of/76/characters">x</a>\r\n'
        b"last line\r\n"
    )
    codec = QuotedPrintable(body)
    start = codec.decoded.index(b"https://")
    end = codec.decoded.index(b'">x')
    out = spliced(body, codec, [ByteEdit(start, end, b"https://lg.test/r/T", None)])
    assert out == (
        b"first line with a soft=\r\nbreak that stays\r\n"
        b'<a href=3D"https://lg.test/r/T">x</a>\r\n'
        b"last line\r\n"
    )


def test_qp_rewrites_only_the_physical_lines_of_the_link() -> None:
    body = b"A" * 75 + b"=\n" + b"B" * 20 + b" http://x.example/ " + b"C" * 30 + b"=\n" + b"D" * 75
    codec = QuotedPrintable(body)
    start = codec.decoded.index(b"http")
    out = spliced(
        body, codec, [ByteEdit(start, start + 17, b"https://lg.test/r/" + b"T" * 40, None)]
    )
    assert out.startswith(b"A" * 75 + b"=\n")
    assert out.endswith(b"=\n" + b"D" * 75)
    assert binascii.a2b_qp(out).count(b"T" * 40) == 1


@pytest.mark.parametrize("width", [76, 64, 60])
@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_base64_keeps_its_layout(width: int, eol: bytes) -> None:
    data = bytes(range(256)) * 3
    raw = binascii.b2a_base64(data, newline=False)
    body = b"\r\n" + eol.join(raw[i : i + width] for i in range(0, len(raw), width)) + eol + eol
    codec = Base64(body, b"\r\n")
    assert codec.decoded == data
    out = spliced(body, codec, [ByteEdit(10, 20, b"new bytes here", None)])
    assert out.startswith(b"\r\n")
    assert out.endswith(eol + eol)
    encoded_lines = out.strip().split(eol)
    assert {len(line) for line in encoded_lines[:-1]} == {width}
    assert binascii.a2b_base64(out) == data[:10] + b"new bytes here" + data[20:]


@pytest.mark.parametrize(
    "body",
    [
        b"SGVsbG8=\r\nfooter text from a list\r\n",  # a mailing-list footer after the data
        b"SGVsbG8",  # missing padding
        b"SGVs*bG8=",  # not the alphabet
    ],
)
def test_base64_that_a_strict_reader_refuses_is_not_decoded(body: bytes) -> None:
    with pytest.raises(binascii.Error):
        Base64(body, b"\r\n")


one_line = st.lists(
    st.sampled_from([b"a", b" ", b"\t", b".", b"=", b"\xe9", b"x" * 40, b"\0"]), max_size=14
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(one_line, st.sampled_from([b"\n", b"\r\n"]))
def test_qp_encode_of_one_line_is_b2a_qp_with_the_soft_breaks_asked_for(
    data: bytes, eol: bytes
) -> None:
    """The one-line shortcut (soft breaks set by a dropped first line) writes what b2a_qp
    writes for the line alone, with its "=\\n" soft breaks turned into ``eol``."""
    expected = binascii.b2a_qp(data, istext=True).replace(b"=\n", b"=" + eol)
    assert qp_encode(data, eol) == expected


def general_soft_run(new: bytes, eol: bytes) -> bytes:
    """What _encode_run writes for a run ending in a soft break, by b2a_qp (its general path)."""
    encoded = qp_encode(new, eol)
    if len(encoded) - (encoded.rfind(b"\n") + 1) > 75:  # move the last token down for "="
        cut = len(encoded) - (3 if encoded[-3:-2] == b"=" else 1)
        encoded = encoded[:cut] + b"=" + eol + encoded[cut:]
    return encoded + b"=" + eol


plain_run = st.lists(
    st.sampled_from([b"a", b" ", b"\t", b".", b"=", b"~", b"x" * 40, b"y" * 73, b"==", b"=a"]),
    max_size=16,
).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(plain_run, st.sampled_from([b"\n", b"\r\n"]))
def test_wrapping_a_plain_run_writes_what_b2a_qp_writes(new: bytes, eol: bytes) -> None:
    """The shortcut for printable ASCII runs (the usual link) is byte for byte the general way,
    "=3D" at every place a line fills up included."""
    assert _encode_run(new, eol, True) == general_soft_run(new, eol)
