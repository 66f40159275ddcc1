"""MIME structure as byte offsets into the original message.

We read structure ourselves so that we can splice into the original bytes: the stdlib parser
gives values, not offsets, and its ``as_bytes()`` re-folds headers. The reading follows the
stdlib's feed parser where the RFCs leave room, so both see the same parts:

* a header block ends at the first empty line, or at the first line that is neither a field
  (``name:``, or ``name :`` as RFC 5322 §4.5.1 allows) nor a continuation (§2.2, §3.2.2
  folding); a lone CR ends a line too;
* a multipart body is cut at lines ``--boundary`` with optional ``--`` and trailing white space
  (RFC 2046 §5.1.1); the line break before a delimiter belongs to the delimiter, text before the
  first one is the preamble and after the closing one the epilogue; without a closing delimiter
  the last part runs to the end.

Parameter values (RFC 2045 §5.1, RFC 2231 continuations and charsets) are read by the stdlib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

# A field name of printable ASCII but ":" (possibly empty, as the stdlib's headerRE allows),
# then ":", with the white space RFC 5322 §4.5.1 (obs-optional) allows before it: mail readers
# take "Subject : x" as a field, so a block must not end there (or the rest would go unread).
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]*[ \t]*:")
# The stdlib's feed parser ends a line at CRLF, LF or a lone CR; so do we, to see one message.
_LINE_BREAK = re.compile(rb"\r\n?|\n")
# What may follow "--boundary" on a delimiter line: "--" (closing), transport padding, the end.
_DELIMITER_TAIL = re.compile(rb"(--)?[ \t]*(?:\r\n?|\n|\Z)")


def _text(data: bytes) -> str:
    """Header bytes as the stdlib's BytesParser reads them: ASCII, other bytes as surrogates."""
    return data.decode("ascii", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # as written, without the colon
    value: str  # unfolded, surrounding white space removed (8-bit bytes as surrogates)
    start: int  # of the field's first line
    end: int  # after the line break of its last line


@dataclass(frozen=True, slots=True)
class Entity:
    """One header block and its body: the message itself, a part, or a message/rfc822 body."""

    start: int
    header_end: int  # after the last field line: where a new field can go
    body_start: int
    end: int
    fields: tuple[Field, ...]

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        return next((f.value for f in self.fields if f.name.lower() == lowered), None)


def parse_entity(raw: bytes, start: int, end: int) -> Entity:
    fields: list[Field] = []
    lines: list[bytes] = []  # lines of the field being read
    field_start = start
    pos = start
    header_end = body_start = end

    def close(at: int) -> None:
        if lines:
            head = lines[0]
            colon = head.find(b":")
            name = head[:colon].rstrip(b" \t") if colon >= 0 else b""
            first = head[colon + 1 :] if colon >= 0 else head
            value = b"".join([first, *lines[1:]]).replace(b"\r", b"").replace(b"\n", b"")
            fields.append(Field(_text(name), _text(value).strip(" \t"), field_start, at))
            lines.clear()

    while pos < end:
        eol = _LINE_BREAK.search(raw, pos, end)
        line_end = end if eol is None else eol.end()
        line = raw[pos:line_end]
        if line in (b"\n", b"\r\n", b"\r"):
            close(pos)
            header_end, body_start = pos, line_end
            break
        if line[:1] in (b" ", b"\t"):
            if not lines:  # a continuation with nothing to continue: keep it as a nameless field
                field_start = pos
            lines.append(line)
        elif _FIELD.match(line) or line.startswith(b"From "):  # mbox "From " lines, as stdlib
            close(pos)
            field_start = pos
            lines.append(line)
        else:
            close(pos)  # not a header line: the body starts here without a separator
            header_end = body_start = pos
            break
        pos = line_end
    else:
        close(end)
        header_end = body_start = end
    return Entity(start, header_end, body_start, end, tuple(fields))


@dataclass(frozen=True, slots=True)
class ContentInfo:
    content_type: str  # "text/html" (stdlib rules: invalid → text/plain or the default)
    charset: str | None
    boundary: str | None
    smime_type: str  # RFC 8551 §3.2.2 smime-type parameter, lower case ("" if none)
    cte: str | None
    attachment: bool


class HeaderError(ValueError):
    """A Content-Type the stdlib cannot read, e.g. RFC 2231 continuations that do not add up.

    The stdlib raises TypeError, IndexError … from deep inside ``email.utils.decode_params``;
    they all become this one error here, at the boundary.
    """


def content_info(entity: Entity, default_type: str) -> ContentInfo:
    holder = Message()
    holder.set_default_type(default_type)
    value = entity.get("content-type")
    if value is not None:
        holder["Content-Type"] = value
    disposition = (entity.get("content-disposition") or "").split(";", 1)[0]
    try:
        charset = holder.get_content_charset()
        boundary = holder.get_boundary()
        smime_type = holder.get_param("smime-type")
    except (TypeError, ValueError, IndexError, LookupError, UnicodeError) as exc:
        raise HeaderError(f"unreadable Content-Type {value!r}: {exc}") from exc
    return ContentInfo(
        content_type=holder.get_content_type(),
        charset=charset,
        boundary=boundary,
        smime_type=smime_type.lower() if isinstance(smime_type, str) else "",
        cte=entity.get("content-transfer-encoding"),
        attachment=disposition.strip().lower() == "attachment",
    )


def split_multipart(raw: bytes, start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each body part; empty when no delimiter line is found."""
    try:
        dash = b"--" + boundary.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return []  # the stdlib made it U+FFFD, which no line of bytes can hold
    parts: list[tuple[int, int]] = []
    opened: int | None = None  # where the current part's content starts
    at = raw.find(dash, start, end)
    while at >= 0:
        tail = _DELIMITER_TAIL.match(raw, at + len(dash), end)
        if tail is not None and at == opened:
            # Delimiter lines in a row enclose no part: the stdlib folds them into one (even a
            # closing one, after which its part runs on), and we read mail as it does.
            opened = tail.end()
        elif tail is not None and (at == start or raw[at - 1] in (10, 13)):  # at a line start
            if opened is not None:
                parts.append((opened, _before_line_break(raw, opened, at)))
            if tail.group(1):
                return parts
            opened = tail.end()
        at = raw.find(dash, at + len(dash), end)
    if opened is not None:
        parts.append((opened, end))
    return parts


def _before_line_break(raw: bytes, floor: int, at: int) -> int:
    if at - 2 >= floor and raw[at - 2 : at] == b"\r\n":
        return at - 2
    if at - 1 >= floor and raw[at - 1 : at] in (b"\n", b"\r"):
        return at - 1
    return at
