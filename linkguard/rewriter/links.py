"""What the scanners share: the edit they propose, the book that asks the sealer, URL clean-up.

A scanner (HTML, plain text, calendar) reads decoded text and returns :class:`Edit` values:
"replace text[start:end] with this". It never builds the new text itself, so every character
it does not name stays as it was. Each edit carries the links it seals; when a later stage
cannot carry an edit (a charset that cannot encode it) the links are marked as skipped.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from linkguard.core.url import is_visible_ascii
from linkguard.native import optional_module
from linkguard.rewriter.model import LinkOutcome, LinkPlace, LinkRecord, RewriteContext

# The scheme (RFC 3986 §3.1: letters, digits, "+", "-", ".") is "http" or "https", any case.
_HTTP_SCHEME = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?:")
# WHATWG URL §4.4 (basic URL parser): leading and trailing C0 controls and spaces are stripped
# and every ASCII tab or newline is removed before anything else is read.
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
# Bytes a charset could not decode travel as lone surrogates (PEP 383 "surrogateescape").
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def browser_url(value: str) -> str:
    """The string a browser would parse for this link value (WHATWG URL §4.4, first steps)."""
    value = value.strip(_C0_AND_SPACE)
    if "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_TAB_NEWLINE)
    return value


def http_url(value: str) -> str | None:
    """``value`` (already browser-cleaned) if its scheme is http or https, else None."""
    if _HTTP_SCHEME.match(value) is None:
        return None
    if value.isascii():
        return value
    return _ESCAPED_BYTE.sub(lambda b: f"%{ord(b.group()) - 0xDC00:02X}", value)


# The records of a message are built once, when each link is sealed, and handed out in the
# report. Until the report is returned they are the rewriter's own, and the two late changes
# (a part that cannot carry its edits; a calendar value read as HTML or text) are made to them
# in place, as a frozen dataclass's own __post_init__ would: a second, mutable object per link
# and a copy of each at the end cost more than the rest of the link's bookkeeping.
_amend = object.__setattr__
# LinkRecord's generated __init__ sets each field with object.__setattr__, which looks the
# field up on the type every time; one record is built per link, so _record sets the same slots
# through their descriptors, found once here (in field order; the test of the rewriter's
# shortcuts pins that it builds what LinkRecord(...) builds).
_new_record = object.__new__
(
    _set_part,
    _set_place,
    _set_url,
    _set_source,
    _set_replacement,
    _set_outcome,
    _set_display_text,
) = (getattr(LinkRecord, f.name).__set__ for f in dataclasses.fields(LinkRecord))


# The same in one C call where linkguard/core/_slots.pyx is built (the descriptors' setter
# called directly), as the URL model builds its ParsedUrl.
_RECORD_SLOTS = tuple(getattr(LinkRecord, f.name) for f in dataclasses.fields(LinkRecord))


_slots = optional_module("linkguard.core._slots")
_build_slots: Final[Callable[[type[LinkRecord], tuple[object, ...], tuple[object, ...]],
                             LinkRecord] | None] = None if _slots is None else _slots.build


def _record(  # noqa: PLR0917 - LinkRecord's fields, positional as its constructor takes them
    part: str,
    place: LinkPlace,
    url: str,
    source: str,
    replacement: str | None,
    outcome: LinkOutcome,
    display_text: str | None,
) -> LinkRecord:
    if _build_slots is not None:
        return _build_slots(LinkRecord, _RECORD_SLOTS,
                            (part, place, url, source, replacement, outcome, display_text))
    link: LinkRecord = _new_record(LinkRecord)
    _set_part(link, part)
    _set_place(link, place)
    _set_url(link, url)
    _set_source(link, source)
    _set_replacement(link, replacement)
    _set_outcome(link, outcome)
    _set_display_text(link, display_text)
    return link


def drop(link: LinkRecord, outcome: LinkOutcome) -> None:
    """Mark a sealed link as left after all (its part could not carry the new link)."""
    if link.outcome is LinkOutcome.REWRITTEN:
        _amend(link, "replacement", None)
        _amend(link, "outcome", outcome)


def relocate(link: LinkRecord, place: LinkPlace, source: str) -> None:
    """Say where a link read in a nested value (a calendar's HTML description) really is."""
    _amend(link, "place", place)
    _amend(link, "source", source)


class Edit(NamedTuple):
    """Replace ``[start, end)`` of a decoded text (or byte string) with ``text``."""

    start: int
    end: int
    text: str
    links: tuple[LinkRecord, ...]

    def drop(self, outcome: LinkOutcome) -> None:
        for link in self.links:
            drop(link, outcome)


class LinkBook:
    """Asks the sealer about each link, in message order, and keeps what it answered."""

    def __init__(self, context: RewriteContext) -> None:
        self._is_sealed = context.is_sealed
        self._sealer = context.sealer
        self.links: list[LinkRecord] = []
        self.part = ""
        self.forms = 0

    def seal(
        self, url: str, source: str, place: LinkPlace, display_text: str | None = None
    ) -> LinkRecord:
        # Positional: keyword arguments cost more, once per link.
        links = self.links
        replacement: str | None = None
        if self._is_sealed(url):
            outcome = LinkOutcome.ALREADY_SEALED
        else:
            sealed = self._sealer(url, display_text=display_text, index=len(links))
            if sealed is None or sealed == url:
                outcome = LinkOutcome.DECLINED
            elif not (sealed and is_visible_ascii(sealed)):
                # A replacement must be one token of printable ASCII, "!" to "~" (RFC 3986 §2
                # characters and the few HTML escaping handles): a space or a control would
                # end the link early or break a line.
                outcome = LinkOutcome.BAD_REPLACEMENT
            else:
                replacement = sealed
                outcome = LinkOutcome.REWRITTEN
        link = _record(self.part, place, url, source, replacement, outcome, display_text)
        links.append(link)
        return link


class Regions:
    """Sorted, disjoint ``[start, end)`` ranges a scanner must not touch (PGP armor)."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: Sequence[tuple[int, int]] = ()) -> None:
        self._starts = [s for s, _ in spans]
        self._ends = [e for _, e in spans]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, max(start, end - 1)) - 1
        return i >= 0 and self._ends[i] > start


NO_REGIONS = Regions()
