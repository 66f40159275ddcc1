"""Content-Transfer-Encodings (RFC 2045 §6): decode a body, and re-encode as little as possible.

* 7bit, 8bit, binary: the decoded body is the body; edits are spliced in as they are.
* quoted-printable (§6.7): a soft line break only says "join", so the physical lines are
  independent. Only the physical lines an edit touches are encoded again, with lines of at most
  76 characters, ending in the same kind of break; every other line keeps its bytes.
* base64 (§6.8): any change moves every later character, so the body is encoded anew with the
  original line length, line break and leading/trailing white space.

Decoding follows what the stdlib email package does (``binascii.a2b_qp`` and strict base64),
so what we read is what a reader of the message will decode.

Where ``_qpcore.pyx`` is built, a quoted-printable part's line tables, its runs of edited
lines and the usual line wrapping are done by it in one pass each; the Python below is the
plain build's path and the reference it is tested against (tests/rewriter/test_qpcore.py).
"""

from __future__ import annotations

import binascii
import bisect
import itertools
import operator
import re
from collections.abc import Sequence
from typing import Final, NamedTuple, Protocol

from linkguard.native import optional_module
from linkguard.rewriter.charset import ByteEdit

# The compiled line tables, runs and wrapping (``_qpcore.pyx``), where setup.py built them.
_native: Final = optional_module("linkguard.rewriter._qpcore")

# RFC 5322 §2.1.1 / RFC 2045 §2.7: lines of 7bit and 8bit data are at most 998 octets.
MAX_LINE = 998
_QP_LINE = 76  # RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters
# Rules 1-2: "!" through "~" stand for themselves except "=", and so do space and tab unless
# they end a line (rule 3).
_QP_LITERAL = frozenset(range(33, 127)) - {61}
_QP_TOKEN = [bytes([b]) if b in _QP_LITERAL or b in (9, 32) else b"=%02X" % b for b in range(256)]
_B64_WS = re.compile(rb"\A[ \t\r\n]*|[ \t\r\n]*\Z")
IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
_NEWLINE = re.compile(rb"\n")
# Bytes that a run of text may hold to be wrapped by ``_wrap``: tab, and space through "~".
_PLAIN = bytes([9, *range(32, 127)])
# Last bytes that b2a_qp escapes at the end of its input (rule 3 white space; a "." alone on a
# line, which SMTP would read as the end of the data), so a run ending in one is not wrapped.
_ENDS_APART = frozenset(b" \t.")
# One line of ``_wrap``: up to 75 characters, not ending inside an "=3D" (an "=" or "=3" last).
_LINE_OF_75 = re.compile(rb".{1,75}(?<!=)(?<!=.)", re.DOTALL)
# "=" that a2b_qp keeps as it is: not a soft break, not an escape. The usual cases are tried
# first (soft breaks, upper-case escapes): every "=" of a body is looked at.
_IRREGULAR_EQUALS = re.compile(rb"=(?!\r\n|[0-9A-F][0-9A-F]|\n|[0-9A-Fa-f][0-9A-Fa-f])")


def normalize_cte(value: str | None) -> str:
    """Lower-case CTE name; common misspellings ("8 bit", "7-bit", "7bits") read as meant."""
    if value is None:
        return ""
    name = value.strip().strip("\"'").lower()
    squeezed = name.replace(" ", "").replace("-", "")
    if squeezed in ("7bit", "7bits", "8bit", "8bits"):
        return squeezed[:4]
    return name


class Splice(NamedTuple):
    """Replace ``[start, end)`` of an encoded byte string with ``data``."""

    start: int
    end: int
    data: bytes


def eol_of(data: bytes, default: bytes) -> bytes:
    nl = data.find(b"\n")
    if nl < 0:
        return default
    return b"\r\n" if nl > 0 and data[nl - 1] == 13 else b"\n"


def apply(data: bytes, edits: Sequence[ByteEdit]) -> bytes:
    pieces: list[bytes] = []
    pos = 0
    for edit in edits:
        pieces += (data[pos : edit.start], edit.data)
        pos = edit.end
    pieces.append(data[pos:])
    return b"".join(pieces)


def longest_line(data: bytes) -> int:
    if _native is not None:
        longest: int = _native.longest_line(data)
        return longest
    return _longest_line_python(data)


def _longest_line_python(data: bytes) -> int:
    return max((len(line.rstrip(b"\r")) for line in data.split(b"\n")), default=0)


# --- quoted-printable ---------------------------------------------------------------------


def qp_encode(decoded: bytes, eol: bytes) -> bytes:
    """Encode ``decoded``; its own line breaks become hard breaks as they were.

    ``binascii.b2a_qp`` does this fast but writes every line break in the style of the first
    one, and can write 77 characters when a line ends in white space. So it is used on text
    with uniform line breaks and its result checked; anything else goes through
    :func:`_qp_lines`. Soft breaks follow the text's own line breaks, or ``eol`` if it has none.
    """
    if b"\n" not in decoded and b"\r" not in decoded:
        # One line (the common case: a link inside a long line): nothing ends in white space
        # before a break, so b2a_qp keeps to 76. It writes soft breaks like the first line
        # break of its input, so an empty first line ending in ``eol`` (dropped again) sets
        # them; the text itself is then read from the start of a line, as if alone.
        return binascii.b2a_qp(eol + decoded, istext=True)[len(eol) :]
    lf = decoded.count(b"\n")
    crlf = decoded.count(b"\r\n")
    if decoded.count(b"\r") == crlf and crlf in (0, lf):
        encoded = binascii.b2a_qp(decoded, istext=True)
        if max(map(len, encoded.split(b"\n"))) > _QP_LINE + (1 if crlf else 0):
            encoded = _qp_lines(decoded, b"\r\n" if crlf else b"\n")
    else:
        encoded = _qp_lines(decoded, b"\n")
    return encoded if lf or eol == b"\n" else encoded.replace(b"=\n", b"=" + eol)


def _qp_lines(decoded: bytes, soft: bytes) -> bytes:
    """RFC 2045 §6.7 by hand: rules 1-2 (literals, =XX), 3 (white space at a line end),
    4 (line breaks kept as they are; a lone CR is data) and 5 (lines of at most 76)."""
    out: list[bytes] = []
    size = 0
    pieces = decoded.split(b"\n")
    for i, line in enumerate(pieces):
        if i == len(pieces) - 1:
            content, hard = line, b""  # nothing follows the last piece; a CR in it is data
        elif line.endswith(b"\r"):
            content, hard = line[:-1], b"\r\n"
        else:
            content, hard = line, b"\n"
        tokens = [_QP_TOKEN[b] for b in content]
        if content and content[-1] in (9, 32):
            tokens[-1] = b"=%02X" % content[-1]
        for token in tokens:
            if size + len(token) > _QP_LINE - 1:  # leave room for the soft break's "="
                out.append(b"=" + soft)
                size = 0
            out.append(token)
            size += len(token)
        out.append(hard)
        size = 0
    return b"".join(out)


class QuotedPrintable:
    """A quoted-printable body cut into lines, for re-encoding only the lines that change.

    In a regular body (every "=" starts an escape or a soft break, the usual case) the lines are
    the physical lines, found in one pass. Otherwise they are logical lines (a2b_qp's view),
    cut into physical lines only where an edit falls.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        if _native is not None:
            lines = _native.physical_lines(body)
            self._physical_lines = lines is not None
        else:
            self._physical_lines = b"\0" not in body and _IRREGULAR_EQUALS.search(body) is None
            lines = _physical_lines(body, 0, len(body), 0) if self._physical_lines else None
        if lines is not None:
            self._enc, self._dec, self.decoded = lines
        else:
            self.decoded = binascii.a2b_qp(body)
            self._enc, self._dec = self._cut(body)

    @staticmethod
    def _cut(body: bytes) -> tuple[list[int], list[int]]:
        """Logical lines one by one, each decoded alone, the way a2b_qp reads soft breaks."""
        enc: list[int] = []
        dec: list[int] = []
        pos = size = 0
        n = len(body)
        while pos < n:
            start = pos
            while True:
                nl = body.find(b"\n", pos)
                if nl < 0:
                    pos = n
                    break
                pos = nl + 1
                # a2b_qp reads "=" right before the line break as a soft break.
                before = nl - 1 if nl - 1 >= start and body[nl - 1] == 13 else nl
                if not (before - 1 >= start and body[before - 1] == 61):
                    break
            enc.append(start)
            dec.append(size)
            size += len(binascii.a2b_qp(body[start:pos]))
        return [*enc, n], [*dec, size]

    def splices(self, edits: Sequence[ByteEdit], at: int = 0) -> list[Splice]:
        """Re-encode only the physical lines that hold an edit; offsets are ``at`` + offsets
        in the body (``at``: where the body starts in the message).

        A soft break only says "join", so physical lines are independent: the lines an edit
        touches are encoded anew (ending in the same kind of break) and the others keep their
        bytes.
        """
        if self._physical_lines:
            if _native is not None:
                spliced: list[Splice] = _native.runs(self._body, self._enc, self._dec,
                                                     self.decoded, edits, at, _encode_run,
                                                     Splice)
                return spliced
            return self._runs(self._enc, self._dec, edits, at)
        out: list[Splice] = []
        for first, last, group in _group(edits, self._dec, self.decoded):
            pos, end = self._enc[first], self._enc[last + 1]
            enc = [pos, *(m.end() for m in _NEWLINE.finditer(self._body, pos, end))]
            if enc[-1] != end:
                enc.append(end)
            dec = _DecodedStarts(self._body, enc, self._dec[first], self._dec[last + 1])
            out += self._runs(enc, dec, group, at)
        return out

    def _runs(
        self, enc: list[int], dec: _Starts, edits: Sequence[ByteEdit], at: int
    ) -> list[Splice]:
        out: list[Splice] = []
        decoded = self.decoded
        body = self._body
        for a, b, run in _group(edits, dec, decoded):
            d0, d1 = dec[a], dec[b + 1]
            if len(run) == 1:  # the usual run: one link in its lines
                edit = run[0]
                new = b"".join((decoded[d0 : edit.start], edit.data, decoded[edit.end : d1]))
            else:
                pieces: list[bytes] = []
                pos = d0
                for edit in run:
                    pieces += (decoded[pos : edit.start], edit.data)
                    pos = edit.end
                pieces.append(decoded[pos:d1])
                new = b"".join(pieces)
            e0, e1 = enc[a], enc[b + 1]
            eol = b"\r\n" if e1 - 2 >= e0 and body.startswith(b"\r\n", e1 - 2) else b"\n"
            # The run ends as its last line did: with a soft break if that line's break
            # decoded to nothing.
            soft = body[e1 - 1] == 10 and (d1 == dec[b] or decoded[d1 - 1] != 10)
            out.append(_new_tuple(Splice, (at + e0, at + e1, _encode_run(new, eol, soft))))
        return out


def _physical_lines(
    body: bytes, pos: int, end: int, size: int
) -> tuple[list[int], list[int], bytes]:
    """Encoded and decoded starts of the physical lines of a regular ``body[pos:end]``, and
    its decoded text, in one pass: decode with a NUL after each line break (a soft break
    decodes to nothing, leaving just the NUL) and read the line starts off the NULs."""
    lines = body[pos:end].split(b"\n")
    last = lines.pop()  # after the last line break: b"" when the chunk ends with one
    lengths = map(operator.add, map(len, lines), itertools.repeat(1))  # each with its "\n"
    enc = list(itertools.accumulate(lengths, initial=pos))
    lines.append(last)
    pieces = binascii.a2b_qp(b"\n\0".join(lines)).split(b"\0")
    dec = list(itertools.accumulate(map(len, pieces[:-1]), initial=size))
    decoded = b"".join(pieces)
    if enc[-1] != end:  # the last line has no break: the end closes it
        enc.append(end)
        dec.append(size + len(decoded))
    return enc, dec, decoded


# tuple.__new__(Splice, (start, end, data)) builds a Splice without the Python frame of
# NamedTuple's __new__: one per link in a link-heavy part.
_new_tuple = tuple.__new__


class _Starts(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, i: int, /) -> int: ...


class _DecodedStarts:
    """Decoded offset of each physical line start, worked out only when asked (by bisect).

    A line break ends every soft break and every a2b_qp look-ahead, so decoding the bytes from
    the logical line's start to a physical line's start gives exactly the decoded text before it.
    """

    def __init__(self, body: bytes, enc: list[int], first: int, last: int) -> None:
        self._body = body
        self._enc = enc
        self._first = first
        self._last = last

    def __len__(self) -> int:
        return len(self._enc)

    def __getitem__(self, i: int) -> int:
        if i == 0:
            return self._first
        if i == len(self._enc) - 1:
            return self._last
        return self._first + len(binascii.a2b_qp(self._body[self._enc[0] : self._enc[i]]))


def _group(
    edits: Sequence[ByteEdit], starts: _Starts, decoded: bytes
) -> list[tuple[int, int, list[ByteEdit]]]:
    """Edits by the lines (``starts`` of each, plus the end) they touch; overlaps merged.

    An edit that swallows the line break ending its last line takes the next line along:
    otherwise that line would be glued to the encoded edit and could grow past 76.
    """
    groups: list[tuple[int, int, list[ByteEdit]]] = []
    lines = len(starts) - 1
    bisect_right = bisect.bisect_right
    prev_first = prev_last = -1
    run: list[ByteEdit] = []
    for edit in edits:
        start, end = edit[0], edit[1]
        first = bisect_right(starts, start) - 1
        last = bisect_right(starts, end - 1) - 1 if end > start else first  # never < first
        if last + 1 < lines and end == starts[last + 1] and decoded[end - 1] == 10:
            last += 1
        if first <= prev_last:  # shares a line with the group before: join it
            run.append(edit)
            prev_last = max(prev_last, last)
            continue
        if run:
            groups.append((prev_first, prev_last, run))
        run = [edit]
        prev_first, prev_last = first, last
    if run:
        groups.append((prev_first, prev_last, run))
    return groups


def _encode_run(new: bytes, eol: bytes, soft: bool) -> bytes:
    """Encode ``new`` to replace physical lines whose last ends in ``eol`` (or in nothing,
    then ``eol`` is "\n"), ending as they ended: with a soft break if ``soft``."""
    if soft and new and new[-1] not in _ENDS_APART:
        if _native is not None:
            wrapped: bytes | None = _native.wrap(new, b"=" + eol)
            if wrapped is not None:
                return wrapped
        elif not new.translate(None, _PLAIN):
            return _wrap(new.replace(b"=", b"=3D"), b"=" + eol)
    encoded = qp_encode(new, eol)
    if not soft:
        return encoded
    # Room for the closing "=": the last line may be 76 long, so move its last token down.
    if len(encoded) - (encoded.rfind(b"\n") + 1) > _QP_LINE - 1:
        cut = len(encoded) - (3 if encoded[-3:-2] == b"=" else 1)
        encoded = encoded[:cut] + b"=" + eol + encoded[cut:]
    return encoded + b"=" + eol


def _wrap(escaped: bytes, soft: bytes) -> bytes:
    """Cut quoted-printable text into lines of at most 75 characters, each ended by ``soft``.

    What b2a_qp and :func:`_encode_run` write for a run of printable ASCII, spaces and tabs
    (with "=" as "=3D") that ends in a soft break: lines filled as far as they go, an "=3D" never
    cut, and no line of 76 (the last character moved down to make room for the closing "=").
    The usual run, a link in a long line, is done here at a fraction of b2a_qp's cost: each
    ``_LINE_OF_75`` match is one line (every "=" starts an "=3D", so a line that would end in
    "=" or "=3" gives back those characters, as the lines are filled).
    """
    return soft.join(_LINE_OF_75.findall(escaped)) + soft


# --- base64 -------------------------------------------------------------------------------


class Base64:
    """A base64 body and its layout: line length, line break, surrounding white space."""

    def __init__(self, body: bytes, eol: bytes) -> None:
        lead = _B64_WS.match(body)
        assert lead is not None  # noqa: S101 - the pattern matches the empty string
        core_start = lead.end()
        core_end = len(body.rstrip(b" \t\r\n"))
        self._span = (core_start, max(core_start, core_end))
        core = body[self._span[0] : self._span[1]]
        self._eol = eol_of(core, eol_of(body, eol))
        lines = core.split(b"\n")
        first = len(lines[0].rstrip(b"\r"))
        # One line says nothing about a width: take §6.8's 76, or its own if longer.
        width = first if len(lines) > 1 else max(first, _QP_LINE)
        self._width = max(4, min(width, MAX_LINE))
        self.decoded = binascii.a2b_base64(
            b"".join(core.split()), strict_mode=True
        )  # raises binascii.Error on anything a strict reader would refuse

    def splices(self, edits: Sequence[ByteEdit], at: int = 0) -> list[Splice]:
        """The body encoded anew, as one splice; ``at`` as for quoted-printable."""
        encoded = binascii.b2a_base64(apply(self.decoded, edits), newline=False)
        w = self._width
        lines = [encoded[i : i + w] for i in range(0, len(encoded), w)]
        return [Splice(at + self._span[0], at + self._span[1], self._eol.join(lines))]
