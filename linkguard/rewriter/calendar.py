"""Seal the links of an iCalendar (RFC 5545) part: invitations carry meeting and phishing links.

RFC 5545 §3.1: a content line longer than 75 octets is folded by inserting a line break and one
space or tab; unfolding removes the break and that one character. A URL is often folded in the
middle, so each content line is unfolded, read, and only a changed line is folded again (the
others keep their bytes). Links live in the TEXT properties a calendar shows (DESCRIPTION,
LOCATION, COMMENT …; §3.3.11 escapes ``\\ \\; \\, \\n`` are undone before reading and applied
to the replacement) and in the URI properties (URL, ATTACH, RFC 7986 CONFERENCE). Outlook puts
an HTML copy of the description into ``X-ALT-DESC;FMTTYPE=text/html``, which is read as HTML.
"""

from __future__ import annotations

import re

from linkguard.rewriter.html import scan_html
from linkguard.rewriter.links import (
    NO_REGIONS,
    Edit,
    LinkBook,
    Regions,
    browser_url,
    http_url,
    relocate,
)
from linkguard.rewriter.model import LinkPlace
from linkguard.rewriter.plain import scan_plain

_TEXT_PROPS = frozenset(
    {"DESCRIPTION", "LOCATION", "COMMENT", "CONTACT", "SUMMARY", "RESOURCES", "X-ALT-DESC"}
)
_URI_PROPS = frozenset({"URL", "ATTACH", "CONFERENCE"})
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|\Z)")
_NAME = re.compile(r"[A-Za-z0-9\-]+")
# §3.1: param = param-name "=" param-value *("," param-value); a quoted value may hold ":;,".
_PARAM = re.compile(r';([A-Za-z0-9\-]+)=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)')
_FOLD_OCTETS = 75
_LINK_PROPS = _TEXT_PROPS | _URI_PROPS
_TEXT_UNESCAPE = {"\\": "\\", ";": ";", ",": ",", "n": "\n", "N": "\n"}


def _content_lines(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, eol)`` of each content line, folds included, final line break excluded."""
    lines: list[tuple[int, int, str]] = []
    for m in _PHYSICAL_LINE.finditer(text):
        if m.start() == m.end():
            break
        body = m.group().rstrip("\r\n")
        eol = m.group()[len(body) :]
        if body[:1] in (" ", "\t") and lines:
            start, _, _ = lines[-1]
            lines[-1] = (start, m.start() + len(body), eol)
        else:
            lines.append((m.start(), m.start() + len(body), eol))
    return lines


def _unfold(text: str, start: int, end: int) -> str:
    """RFC 5545 §3.1 unfolding: drop each line break with the one space or tab after it."""
    pieces: list[str] = []
    for m in _PHYSICAL_LINE.finditer(text, start, end):
        if m.start() == m.end() and m.start() > start:
            break
        body = m.group().rstrip("\r\n")
        pieces.append(body[1:] if m.start() > start else body)
    return "".join(pieces)


def fold(line: str, eol: str) -> str:
    """Fold one content line into lines of at most 75 UTF-8 octets (RFC 5545 §3.1)."""
    if len(line.encode("utf-8", "surrogateescape")) <= _FOLD_OCTETS:
        return line
    out: list[str] = []
    current: list[str] = []
    size = 0
    for ch in line:
        n = len(ch.encode("utf-8", "surrogateescape"))
        if size + n > _FOLD_OCTETS and current:
            out.append("".join(current))
            current = [" "]
            size = 1
        current.append(ch)
        size += n
    out.append("".join(current))
    return eol.join(out)


def _unescape_text(value: str) -> tuple[str, list[int]]:
    """RFC 5545 §3.3.11 TEXT unescaped, with the offset in ``value`` of each character."""
    out: list[str] = []
    where: list[int] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] in _TEXT_UNESCAPE:
            out.append(_TEXT_UNESCAPE[value[i + 1]])
            where.append(i)
            i += 2
        else:
            out.append(ch)
            where.append(i)
            i += 1
    where.append(len(value))
    return "".join(out), where


def _escape_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _split_property(line: str) -> tuple[str, dict[str, str], int] | None:
    """Name, parameters (upper-case names) and the offset of the value, or None."""
    m = _NAME.match(line)
    if m is None:
        return None
    params: dict[str, str] = {}
    pos = m.end()
    while True:
        p = _PARAM.match(line, pos)
        if p is None:
            break
        params[p.group(1).upper()] = p.group(2).strip('"')
        pos = p.end()
    if not line.startswith(":", pos):
        return None
    return m.group().upper(), params, pos + 1


def _scan_value(
    name: str, params: dict[str, str], value: str, book: LinkBook, display_limit: int
) -> list[Edit]:
    """Edits in ``value`` coordinates."""
    if name in _URI_PROPS:
        if params.get("VALUE", "").upper() == "BINARY":
            return []
        url = http_url(browser_url(value))
        if url is None:
            return []
        link = book.seal(url, source=value, place=LinkPlace.CALENDAR)
        return [] if link.replacement is None else [Edit(0, len(value), link.replacement, (link,))]
    plain, where = _unescape_text(value)
    if params.get("FMTTYPE", "").lower() == "text/html":
        inner = scan_html(plain, book, NO_REGIONS, display_limit=display_limit)
    else:
        inner = scan_plain(plain, book, NO_REGIONS)
    edits: list[Edit] = []
    for edit in inner:
        start, end = where[edit.start], where[edit.end]
        for link in edit.links:
            relocate(link, LinkPlace.CALENDAR, value[start:end])
        edits.append(Edit(start, end, _escape_text(edit.text), edit.links))
    return edits


def scan_calendar(text: str, book: LinkBook, skip: Regions, *, display_limit: int) -> list[Edit]:
    """Seal the links of every content line that can carry one; refold the lines changed."""
    edits: list[Edit] = []
    lines = _content_lines(text)
    # A content line with no break of its own (the last one) folds like the others.
    default_eol = next((eol for _, _, eol in lines if eol), "\r\n")
    for start, end, eol in lines:
        m = _NAME.match(text, start, end)
        if m is None or m.group().upper() not in _LINK_PROPS:
            continue
        if skip and skip.overlaps(start, end):
            continue
        line = _unfold(text, start, end)
        parts = _split_property(line)
        if parts is None:
            continue
        name, params, value_at = parts
        value = line[value_at:]
        inner = _scan_value(name, params, value, book, display_limit)
        if not inner:
            continue
        pieces: list[str] = [line[:value_at]]
        pos = 0
        for edit in inner:
            pieces.append(value[pos : edit.start])
            pieces.append(edit.text)
            pos = edit.end
        pieces.append(value[pos:])
        links = tuple(link for edit in inner for link in edit.links)
        edits.append(Edit(start, end, fold("".join(pieces), eol or default_eol), links))
    return edits
