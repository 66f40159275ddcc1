"""Turn a part's bytes into text to read, and text edits back into byte edits.

The part is never re-encoded from its decoded text as a whole: that is only exact for some
charsets and some inputs. Instead each piece between two edits is encoded on its own and the
pieces must add up to the original bytes again; then only the replacements are new bytes. This
holds for every stateless charset and, with care at the BOM, for UTF-16/32. Bytes the charset
cannot decode ride along as lone surrogates (PEP 383 ``surrogateescape``) and come back as they
were. Stateful charsets (UTF-7, ISO-2022-*) may fail the check, and then the whole text is
encoded anew, kept only if it decodes to exactly the new text.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from linkguard.rewriter.links import Edit
from linkguard.rewriter.model import LinkOutcome, Reason

# Names seen in mail that Python spells differently, or where a superset is what mailers mean
# (WHATWG Encoding Standard §4.2 maps gb2312 → gbk, ks_c_5601-1987 → euc-kr/windows-949 …).
_ALIASES = {
    "gb2312": "gbk",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "cp950",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
}
# RFC 2978 §2.3: charset names are short printable-ASCII tokens (mime-charset).
_CHARSET_NAME = re.compile(r"[a-z0-9!#$%&'+\-^_`{}~.:]{1,40}")
# Codecs Python knows that are not charsets a mail part can be in.
_NOT_CHARSETS = frozenset(
    {
        "undefined",
        "idna",
        "punycode",
        "unicode-escape",
        "raw-unicode-escape",
        "charmap",
        "mbcs",
        "oem",
    }
)
_BOMS: dict[str, tuple[tuple[bytes, str], ...]] = {
    # RFC 2781 §4.3: UTF-16 without a BOM is big-endian.
    "utf-16": (
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (b"", "utf-16-be"),
    ),
    "utf-32": (
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (b"", "utf-32-be"),
    ),
    "utf-8-sig": ((codecs.BOM_UTF8, "utf-8"), (b"", "utf-8")),
}


class ByteEdit(NamedTuple):
    start: int
    end: int
    data: bytes
    edit: Edit | None  # None when the whole text was encoded anew


@dataclass(frozen=True, slots=True)
class TextView:
    """A part's decoded text and how to get back to its bytes."""

    text: str
    codec: str  # a stateless Python codec name, BOM handled apart
    prefix: bytes  # a byte order mark, kept as it was
    data: bytes


def lookup(charset: str | None) -> str | Reason | None:
    """The Python codec for a MIME charset name; None if undeclared."""
    if charset is None:
        return None
    name = charset.strip().strip("\"'").lower()
    if not name:
        return None
    if not _CHARSET_NAME.fullmatch(name):
        return Reason.UNKNOWN_CHARSET
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return Reason.UNKNOWN_CHARSET
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return Reason.UNKNOWN_CHARSET
    return info.name


def open_text(data: bytes, charset: str | None) -> TextView | Reason:
    codec = lookup(charset)
    if isinstance(codec, Reason):
        return codec
    if codec is None or (codec == "ascii" and not data.isascii()):
        # Undeclared (RFC 2045 §5.2 says US-ASCII) yet often 8-bit: read UTF-8 when it is,
        # else windows-1252 as browsers do; bytes it lacks stay as surrogates.
        try:
            return TextView(data.decode("utf-8"), "utf-8", b"", data)
        except UnicodeDecodeError:
            codec = "cp1252"
    prefix = b""
    for bom, stateless in _BOMS.get(codec, ()):
        if data.startswith(bom):
            prefix, codec = bom, stateless
            break
    try:
        text = data[len(prefix) :].decode(codec, "surrogateescape")
    except (UnicodeError, LookupError, ValueError):
        return Reason.BAD_CHARSET
    return TextView(text, codec, prefix, data)


def _encode(text: str, codec: str) -> bytes:
    return text.encode(codec, "surrogateescape")


def to_byte_edits(view: TextView, edits: Sequence[Edit]) -> list[ByteEdit] | None:
    """Byte edits for sorted, disjoint text edits; None if the charset cannot carry them."""
    if view.codec == "utf-8" and view.text.isascii():
        return _ascii_byte_edits(view, edits)
    out: list[ByteEdit] = []
    kept: list[Edit] = []
    pieces: list[bytes] = [view.prefix]
    at = len(view.prefix)
    pos = 0
    try:
        for edit in edits:
            gap = _encode(view.text[pos : edit.start], view.codec)
            old = _encode(view.text[edit.start : edit.end], view.codec)
            pieces += (gap, old)
            start = at + len(gap)
            at = start + len(old)
            pos = edit.end
            try:
                new = edit.text.encode(view.codec)
            except UnicodeError:
                edit.drop(LinkOutcome.UNENCODABLE)
                continue
            out.append(ByteEdit(start, at, new, edit))
            kept.append(edit)
        pieces.append(_encode(view.text[pos:], view.codec))
    except UnicodeError:
        return _whole(view, edits)
    if b"".join(pieces) == view.data:
        return out
    return _whole(view, kept)


def _ascii_byte_edits(view: TextView, edits: Sequence[Edit]) -> list[ByteEdit]:
    """:func:`to_byte_edits` for ASCII text read as UTF-8: each character was one byte (any
    other byte would have been decoded to a non-ASCII character or a surrogate), so the pieces
    add up by construction and text offsets are byte offsets after the BOM."""
    out: list[ByteEdit] = []
    shift = len(view.prefix)
    new_tuple = tuple.__new__  # ByteEdit without the frame of NamedTuple's __new__: per link
    for edit in edits:
        try:
            new = edit.text.encode("utf-8")
        except UnicodeError:
            edit.drop(LinkOutcome.UNENCODABLE)
            continue
        out.append(new_tuple(ByteEdit, (edit.start + shift, edit.end + shift, new, edit)))
    return out


def _whole(view: TextView, edits: Sequence[Edit]) -> list[ByteEdit] | None:
    """Encode the new text in one go; keep it only if it reads back as the same text."""
    chunks: list[str] = []
    pos = 0
    for edit in edits:
        chunks += (view.text[pos : edit.start], edit.text)
        pos = edit.end
    chunks.append(view.text[pos:])
    new_text = "".join(chunks)
    try:
        new = view.prefix + _encode(new_text, view.codec)
        if new[len(view.prefix) :].decode(view.codec, "surrogateescape") != new_text:
            return None
    except (UnicodeError, ValueError):
        return None
    return [ByteEdit(0, len(view.data), new, None)]
