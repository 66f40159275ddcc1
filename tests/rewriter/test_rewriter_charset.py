"""Text from bytes and edits back to bytes, for every charset mail uses."""

from __future__ import annotations

import pytest

from linkguard.rewriter.charset import TextView, lookup, open_text, to_byte_edits
from linkguard.rewriter.links import Edit
from linkguard.rewriter.model import Reason
from linkguard.rewriter.transfer import apply


@pytest.mark.parametrize(
    ("charset", "expected"),
    [
        (None, None),
        ("", None),
        ("UTF-8", "utf-8"),
        ('"iso-8859-1"', "iso8859-1"),
        ("us-ascii", "ascii"),
        ("gb2312", "gbk"),
        ("ks_c_5601-1987", "cp949"),
        ("shift_jis", "cp932"),
        ("windows-874", "cp874"),
        ("x-klingon", Reason.UNKNOWN_CHARSET),
        ("unknown-8bit", Reason.UNKNOWN_CHARSET),
        ("base64", Reason.UNKNOWN_CHARSET),  # a codec, not a charset
        ("rot13", Reason.UNKNOWN_CHARSET),
        ("idna", Reason.UNKNOWN_CHARSET),
    ],
)
def test_lookup(charset: str | None, expected: str | Reason | None) -> None:
    assert lookup(charset) == expected


def edit_links(view: TextView) -> bytes:
    """Replace each http URL of the text with a sealed-looking token; the new bytes."""
    edits, pos = [], 0
    while (start := view.text.find("http://", pos)) >= 0:
        end = start + len("http://x.example/")
        edits.append(Edit(start, end, "https://lg.test/r/TOKEN", ()))
        pos = end
    byte_edits = to_byte_edits(view, edits)
    assert byte_edits is not None
    return apply(view.data, byte_edits)


@pytest.mark.parametrize(
    ("charset", "data"),
    [
        ("utf-8", "Grüße http://x.example/ ünd".encode()),
        ("iso-8859-1", "Café http://x.example/ crème".encode("latin-1")),
        ("windows-1252", "“quoted” http://x.example/ €".encode("cp1252")),
        ("koi8-r", "Привет http://x.example/ мир".encode("koi8-r")),
        ("shift_jis", "日本語 http://x.example/ です".encode("cp932")),
        ("big5", "中文 http://x.example/ 測試".encode("cp950")),
        ("euc-kr", "한국어 http://x.example/ 시험".encode("cp949")),
        ("iso-2022-jp", "日本語 http://x.example/ です".encode("iso2022_jp")),
        ("utf-16", "\ufeffHi http://x.example/ there".encode("utf-16-le")),
        ("utf-16", "Hi http://x.example/ no BOM is big-endian".encode("utf-16-be")),
        ("utf-16le", "Hi http://x.example/ there".encode("utf-16-le")),
        ("utf-32", "\ufeffHi http://x.example/".encode("utf-32-be")),
        ("utf-8", b"stray \xff byte http://x.example/ \xc3"),
        (None, b"undeclared latin-1 caf\xe9 http://x.example/"),
        ("us-ascii", b"declared ascii but 8-bit caf\xe9 http://x.example/"),
    ],
)
def test_only_the_replaced_bytes_change(charset: str | None, data: bytes) -> None:
    view = open_text(data, charset)
    assert isinstance(view, TextView)
    out = edit_links(view)
    old_url = "http://x.example/".encode(view.codec)
    new_url = "https://lg.test/r/TOKEN".encode(view.codec)
    assert out == data.replace(old_url, new_url)


def test_utf7_is_encoded_anew_and_reads_back_the_same() -> None:
    data = "Hi Mom ☺ http://x.example/ +".encode("utf-7")
    view = open_text(data, "utf-7")
    assert isinstance(view, TextView)
    out = edit_links(view)
    assert out.decode("utf-7") == "Hi Mom ☺ https://lg.test/r/TOKEN +"


def test_unencodable_replacement_drops_the_edit() -> None:
    view = open_text(b"http://x.example/", "ascii")
    assert isinstance(view, TextView)
    assert to_byte_edits(view, [Edit(0, 17, "https://lg.test/r/é", ())]) == []


def test_unknown_charset_is_a_reason() -> None:
    assert open_text(b"x", "x-unknown") is Reason.UNKNOWN_CHARSET


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"])
def test_ascii_text_edits_are_at_the_same_offsets_as_in_a_general_charset(prefix: bytes) -> None:
    """ASCII read as UTF-8 takes a shortcut (one byte per character); it must agree with the
    piece-by-piece path, here taken by latin-1."""
    data = prefix + b'<a href="http://x.example/">x</a> http://y.example/'
    fast = open_text(data, "utf-8-sig" if prefix else "utf-8")
    slow = open_text(data[len(prefix) :], "latin-1")
    assert isinstance(fast, TextView)
    assert isinstance(slow, TextView)
    assert fast.prefix == prefix
    edits = [
        Edit(m, m + len("http://x.example/"), "https://lg.test/r/T", ())
        for m in (fast.text.find("http://x"), fast.text.find("http://y"))
    ]
    fast_edits = to_byte_edits(fast, edits)
    slow_edits = to_byte_edits(slow, edits)  # the same text: the same text offsets
    assert fast_edits is not None
    assert slow_edits is not None
    assert [(b.start - len(prefix), b.end - len(prefix), b.data) for b in fast_edits] == [
        (b.start, b.end, b.data) for b in slow_edits
    ]
    assert apply(data, fast_edits) == prefix + apply(data[len(prefix) :], slow_edits)
