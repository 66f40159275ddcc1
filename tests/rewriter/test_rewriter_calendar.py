"""iCalendar parts (RFC 5545): unfold, seal, refold only what changed."""

from __future__ import annotations

import re

import pytest

from linkguard.rewriter.calendar import fold, scan_calendar
from linkguard.rewriter.links import NO_REGIONS, LinkBook
from linkguard.rewriter.model import LinkPlace
from tests.rewriter.rewriter_testkit import TOKEN, context, open_token


def rewrite(ics: str) -> tuple[str, LinkBook]:
    book = LinkBook(context())
    edits = scan_calendar(ics, book, NO_REGIONS, display_limit=50)
    out, pos = [], 0
    for edit in edits:
        out += [ics[pos : edit.start], edit.text]
        pos = edit.end
    return "".join([*out, ics[pos:]]), book


def unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


ICS = (
    "BEGIN:VCALENDAR\r\n"
    "BEGIN:VEVENT\r\n"
    "SUMMARY:Review\r\n"
    "DESCRIPTION:Join https://meet.example/j/12345678901234567890?pwd=abcdefgh\r\n"
    " ijklmnop\\, agenda: https://docs.example/a\\;b\\nBye\r\n"
    "LOCATION:Room 1\r\n"
    "URL;VALUE=URI:https://cal.example/e/1\r\n"
    "ATTACH;VALUE=BINARY;ENCODING=BASE64:aHR0cHM6Ly9ub3QtYS1saW5r\r\n"
    "ATTACH:https://files.example/slides.pdf\r\n"
    'ORGANIZER;CN="A: B":mailto:a@b.example\r\n'
    'X-ALT-DESC;FMTTYPE=text/html:<a href="https://meet.example/j/1">Join</a>\r\n'
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_links_in_calendar_properties() -> None:
    out, book = rewrite(ICS)
    assert [link.url for link in book.links] == [
        "https://meet.example/j/12345678901234567890?pwd=abcdefghijklmnop",
        "https://docs.example/a;b",
        "https://cal.example/e/1",
        "https://files.example/slides.pdf",
        "https://meet.example/j/1",
    ]
    assert {link.place for link in book.links} == {LinkPlace.CALENDAR}
    assert [open_token(t) for t in TOKEN.findall(unfold(out))] == [link.url for link in book.links]


def test_escapes_are_kept_around_links() -> None:
    out, book = rewrite(ICS)
    description = next(line for line in unfold(out).split("\r\n") if line.startswith("DESC"))
    assert TOKEN.sub("T", description) == "DESCRIPTION:Join T\\, agenda: T\\nBye"
    assert book.links[1].source == "https://docs.example/a\\;b"


def test_changed_lines_are_refolded_and_the_rest_is_untouched() -> None:
    out, _ = rewrite(ICS)
    assert all(len(line.encode()) <= 75 for line in out.split("\r\n"))
    for untouched in ("SUMMARY:Review", "LOCATION:Room 1", 'ORGANIZER;CN="A: B"'):
        assert untouched in out
    assert "ATTACH;VALUE=BINARY;ENCODING=BASE64:aHR0cHM6Ly9ub3QtYS1saW5r\r\n" in out


def test_lf_calendars_fold_with_lf() -> None:
    out, _ = rewrite(ICS.replace("\r\n", "\n"))
    assert "\r" not in out
    assert all(len(line) <= 75 for line in out.split("\n"))


@pytest.mark.parametrize(
    ("line", "pieces"),
    [
        ("A" * 75, ["A" * 75]),
        ("A" * 76, ["A" * 75, " A"]),
        ("A" * 200, ["A" * 75, " " + "A" * 74, " " + "A" * 51]),
        ("X:" + "é" * 40, ["X:" + "é" * 36, " " + "é" * 4]),  # never splits a UTF-8 sequence
    ],
)
def test_fold(line: str, pieces: list[str]) -> None:
    assert fold(line, "\r\n").split("\r\n") == pieces
    assert all(len(p.encode()) <= 75 for p in pieces)
