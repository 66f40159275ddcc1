"""Reputation feeds: parse the public exports, index them, look a URL up.

Pure: callers read files or download, and pass text in. Formats (each parser cites its source):

=================  ===========================================================================
``openphish``      OpenPhish community feed ``feed.txt``: one URL per line, no header, no dates.
``urlhaus``        abuse.ch URLhaus CSV export (``csv_recent`` / ``csv_online``): ``#`` comment
                   header, then quoted rows ``id,dateadded,url,url_status,last_online,threat,
                   tags,urlhaus_link,reporter``; ``dateadded`` is UTC ``YYYY-MM-DD HH:MM:SS``.
``phishtank``      PhishTank ``online-valid.json``: an array of objects with ``url``,
                   ``submission_time`` / ``verification_time`` (ISO 8601), ``verified``,
                   ``online`` and ``target``.
``phishtank_tsv``  a tab-separated PhishTank dump with a header row naming at least ``url``
                   and ``submission_time`` (``phish_id, submission_time, verification_time,
                   target, url``).
=================  ===========================================================================

The index keys URLs by their WHATWG serialisation (:func:`linkguard.core.url.parse_url`), so
``HTTP://Evil.Example`` in a feed matches ``http://evil.example/`` clicked, without its fragment
(the fragment never reaches the server). A whole host is listed only when the feed lists the
host's root (path ``/``, no query) and the host is not a shared platform: URLhaus lists single
files on compromised or shared sites, and a hit on ``docs.google.com`` would flag everything.

Malformed lines are counted and skipped, never raised; a feed that is not its format at all
(JSON that is not an array, a CSV without a URL column) raises :class:`FeedFormatError`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from linkguard.core.model import FeedHit
from linkguard.core.url import HostKind, ParsedUrl, parse_url

__all__ = [
    "FEED_KINDS",
    "FeedFormatError",
    "FeedIndex",
    "FeedParse",
    "parse_feed",
    "parse_openphish",
    "parse_phishtank_json",
    "parse_phishtank_tsv",
    "parse_urlhaus_csv",
]


class FeedFormatError(ValueError):
    """The text is not a feed of the announced kind at all."""


@dataclass(frozen=True, slots=True)
class FeedParse:
    """One feed's entries: ``(normalised URL, listed)`` pairs, plus how many lines were skipped."""

    source: str
    entries: tuple[tuple[ParsedUrl, datetime | None], ...]
    skipped: int = 0


def _entry(raw: str, listed: datetime | None) -> tuple[ParsedUrl, datetime | None] | None:
    parsed = parse_url(raw.strip())
    if not isinstance(parsed, ParsedUrl) or not parsed.is_http or not parsed.host:
        return None
    return parsed, listed


def _date(text: str | None) -> datetime | None:
    """ISO 8601 or URLhaus ``YYYY-MM-DD HH:MM:SS``; naive dates are UTC; junk is None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _collect(source: str, rows: Iterable[tuple[str, str | None]]) -> FeedParse:
    entries: list[tuple[ParsedUrl, datetime | None]] = []
    skipped = 0
    for url, listed in rows:
        entry = _entry(url, _date(listed))
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return FeedParse(source, tuple(entries), skipped)


def parse_openphish(text: str, source: str = "openphish") -> FeedParse:
    lines = (line.strip() for line in text.splitlines())
    return _collect(source, ((line, None) for line in lines if line and not line.startswith("#")))


URLHAUS_COLUMNS: Final = ("id", "dateadded", "url", "url_status", "last_online", "threat",
                          "tags", "urlhaus_link", "reporter")


def parse_urlhaus_csv(text: str, source: str = "urlhaus") -> FeedParse:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return FeedParse(source, ())
    rows: list[tuple[str, str | None]] = []
    skipped = 0
    for row in csv.reader(lines):
        if len(row) < 3:
            skipped += 1
            continue
        if row[0] == "id" and row[2] == "url":
            continue  # a header row that was not commented out
        rows.append((row[2], row[1]))
    parsed = _collect(source, rows)
    if not parsed.entries and rows and not any("://" in url for url, _ in rows):
        raise FeedFormatError(f"{source}: no URL in the third column: not a URLhaus CSV")
    return FeedParse(source, parsed.entries, parsed.skipped + skipped)


def parse_phishtank_json(text: str, source: str = "phishtank") -> FeedParse:
    try:
        data: object = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedFormatError(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, list):
        raise FeedFormatError(f"{source}: expected a JSON array of entries")
    rows: list[tuple[str, str | None]] = []
    skipped = 0
    for item in data:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or item.get("online", "yes") == "no":
            skipped += 1
            continue
        listed = item.get("verification_time") or item.get("submission_time")
        rows.append((url, listed if isinstance(listed, str) else None))
    parsed = _collect(source, rows)
    return FeedParse(source, parsed.entries, parsed.skipped + skipped)


def parse_phishtank_tsv(text: str, source: str = "phishtank") -> FeedParse:
    lines = text.splitlines()
    if not lines:
        return FeedParse(source, ())
    header = [name.strip().lower() for name in lines[0].split("\t")]
    if "url" not in header:
        raise FeedFormatError(f"{source}: the header row names no 'url' column")
    url_at = header.index("url")
    date_at = next((header.index(name) for name in ("verification_time", "submission_time")
                    if name in header), None)
    rows: list[tuple[str, str | None]] = []
    skipped = 0
    for line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(header):
            skipped += bool(line.strip())
            continue
        rows.append((cells[url_at], cells[date_at] if date_at is not None else None))
    parsed = _collect(source, rows)
    return FeedParse(source, parsed.entries, parsed.skipped + skipped)


FEED_KINDS: Final[Mapping[str, Callable[[str, str], FeedParse]]] = {
    "openphish": parse_openphish,
    "urlhaus": parse_urlhaus_csv,
    "phishtank": parse_phishtank_json,
    "phishtank_tsv": parse_phishtank_tsv,
}


def parse_feed(kind: str, text: str, source: str | None = None) -> FeedParse:
    """Parse ``text`` as a feed of ``kind`` (a key of :data:`FEED_KINDS`)."""
    parser = FEED_KINDS.get(kind)
    if parser is None:
        raise FeedFormatError(f"unknown feed kind {kind!r} ({', '.join(FEED_KINDS)})")
    name = source or ("phishtank" if kind == "phishtank_tsv" else kind)
    return parser(text, name)


def _url_key(url: ParsedUrl) -> str:
    href = url.href
    return href[: -len(url.fragment) - 1] if url.fragment else href


@dataclass(slots=True)
class FeedIndex:
    """Exact URLs and whole hosts, each with the feed and date that listed it. Read-only once
    built; a refresh builds a new index and swaps it in."""

    urls: dict[str, FeedHit] = field(default_factory=dict)
    hosts: dict[str, FeedHit] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # entries per source

    @classmethod
    def build(cls, feeds: Iterable[FeedParse], *,
              shared_host: Callable[[str], bool] = lambda _host: False) -> FeedIndex:
        """``shared_host(host)`` is true for hosts where many people publish (free hosting,
        shorteners, brand domains): those are never listed whole."""
        index = cls()
        for feed in feeds:
            index.counts[feed.source] = index.counts.get(feed.source, 0) + len(feed.entries)
            for url, listed in feed.entries:
                key = _url_key(url)
                hit = FeedHit(feed.source, key, listed)
                index.urls.setdefault(key, hit)
                whole_host = url.path in ("", "/") and not url.query
                if whole_host and url.host not in index.hosts and (
                        url.host_kind is not HostKind.DOMAIN or not shared_host(url.host)):
                    index.hosts[url.host] = FeedHit(feed.source, url.host, listed)
        return index

    def __len__(self) -> int:
        return len(self.urls)

    def lookup(self, url: ParsedUrl) -> tuple[FeedHit, ...]:
        """Hits for the exact URL and for its host (at most one of each)."""
        hits: list[FeedHit] = []
        exact = self.urls.get(_url_key(url))
        if exact is not None:
            hits.append(exact)
        host = self.hosts.get(url.host)
        if host is not None and (exact is None or exact.source != host.source):
            hits.append(host)
        return tuple(hits)
