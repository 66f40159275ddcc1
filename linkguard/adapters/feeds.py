"""Reputation feeds from files or configured URLs, kept as an in-memory index.

A source is written ``kind:location``: ``openphish:https://…/feed.txt``,
``urlhaus:/srv/feeds/csv_recent.csv``, ``phishtank:https://…/online-valid.json``,
``phishtank_tsv:/data/dump.tsv`` (kinds and formats: :mod:`linkguard.core.feeds`). Downloads go to
``cache_dir`` so a restart serves the last copy before the first refresh; a source that fails to
download or parse keeps its previous entries (a feed outage must not empty the index). Each
refresh builds a new :class:`~linkguard.core.feeds.FeedIndex` and swaps it in whole: a click
never sees half a refresh.

``linkguard feeds update`` runs one refresh; the gateway's lifespan can run
:func:`start_refresh_task` to refresh every ``interval_s`` seconds in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from linkguard.core.feeds import FEED_KINDS, FeedFormatError, FeedIndex, FeedParse, parse_feed
from linkguard.core.model import FeedHit
from linkguard.core.url import ParsedUrl

__all__ = ["FeedReport", "FeedSource", "FeedStore", "parse_feed_sources",
           "start_refresh_task"]

log = logging.getLogger(__name__)
MAX_FEED_BYTES: Final = 256 << 20  # the largest public exports are tens of MiB


@dataclass(frozen=True, slots=True)
class FeedSource:
    kind: str
    location: str  # http(s) URL or file path

    @property
    def name(self) -> str:
        return "phishtank" if self.kind == "phishtank_tsv" else self.kind

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("https://", "http://"))

    @property
    def cache_name(self) -> str:
        return f"{self.kind}.feed"


def parse_feed_sources(specs: Iterable[str]) -> list[FeedSource]:
    """``kind:location`` strings → sources; a ValueError names the bad one."""
    sources: list[FeedSource] = []
    for spec in specs:
        kind, sep, location = spec.strip().partition(":")
        if not sep or kind not in FEED_KINDS or not location.strip():
            raise ValueError(f"feed source {spec!r}: expected kind:location with kind one of "
                             f"{', '.join(FEED_KINDS)}")
        sources.append(FeedSource(kind, location.strip()))
    return sources


@dataclass(frozen=True, slots=True)
class FeedReport:
    source: str
    entries: int
    skipped: int = 0
    error: str = ""


class FeedStore:
    def __init__(self, sources: Iterable[FeedSource], *, cache_dir: Path | None = None,
                 shared_host: Callable[[str], bool] = lambda _host: False,
                 connect_s: float = 10.0, read_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sources = list(sources)
        self.cache_dir = cache_dir
        self.shared_host = shared_host
        self.index = FeedIndex()
        self._parses: dict[FeedSource, FeedParse] = {}
        self._timeout = httpx.Timeout(read_s, connect=connect_s)
        self._transport = transport

    def lookup(self, url: ParsedUrl) -> tuple[FeedHit, ...]:
        return self.index.lookup(url)

    def load_local(self) -> list[FeedReport]:
        """Files, and the cached copies of URL sources; no network (process start)."""
        reports = [self._load(source, self._local_text(source)) for source in self.sources]
        self._swap()
        return reports

    async def refresh(self) -> list[FeedReport]:
        """Download URL sources (to the cache), read file sources, parse, swap. Never raises."""
        reports: list[FeedReport] = []
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=True,
                                     max_redirects=5, trust_env=True,
                                     transport=self._transport) as client:
            for source in self.sources:
                if source.is_url:
                    text = await self._download(client, source)
                else:
                    text = await asyncio.to_thread(self._local_text, source)
                reports.append(await asyncio.to_thread(self._load, source, text))
        await asyncio.to_thread(self._swap)
        return reports

    async def run_forever(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` seconds until cancelled; failures are logged."""
        while True:
            try:
                reports = await self.refresh()
            except Exception:  # a bug must not stop future refreshes
                log.exception("feed refresh failed")
                reports = []
            for report in reports:
                if report.error:
                    log.warning("feed %s: %s", report.source, report.error)
            await asyncio.sleep(interval_s)

    # --- internals ----------------------------------------------------------------------

    def _local_text(self, source: FeedSource) -> str | FeedReport:
        if source.is_url:
            path = self.cache_dir / source.cache_name if self.cache_dir else None
            if path is None or not path.exists():
                return FeedReport(source.name, 0, error="not downloaded yet "
                                                        "(run 'linkguard feeds update')")
        else:
            path = Path(source.location)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            return FeedReport(source.name, 0, error=f"cannot read {path}: {exc.strerror}")
        if len(data) > MAX_FEED_BYTES:
            return FeedReport(source.name, 0, error=f"{path} is over {MAX_FEED_BYTES} bytes")
        return data.decode("utf-8", "replace")

    async def _download(self, client: httpx.AsyncClient, source: FeedSource) -> str | FeedReport:
        try:
            async with client.stream("GET", source.location) as response:
                if response.status_code != 200:
                    return FeedReport(source.name, 0,
                                      error=f"download answered HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        return FeedReport(source.name, 0, error="download too large")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            return FeedReport(source.name, 0, error=f"download failed ({type(exc).__name__})")
        data = b"".join(chunks)
        if self.cache_dir is not None:
            await asyncio.to_thread(self._store, source, data)
        return data.decode("utf-8", "replace")

    def _store(self, source: FeedSource, data: bytes) -> None:
        assert self.cache_dir is not None  # noqa: S101 - checked by the caller
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        final = self.cache_dir / source.cache_name
        temporary = final.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, final)  # readers see the old file or the new one, never half

    def _load(self, source: FeedSource, text: str | FeedReport) -> FeedReport:
        if isinstance(text, FeedReport):
            return text  # previous entries, if any, stay
        try:
            parsed = parse_feed(source.kind, text, source.name)
        except FeedFormatError as exc:
            return FeedReport(source.name, 0, error=str(exc))
        self._parses[source] = parsed
        return FeedReport(source.name, len(parsed.entries), parsed.skipped)

    def _swap(self) -> None:
        self.index = FeedIndex.build(self._parses.values(), shared_host=self.shared_host)


def start_refresh_task(store: FeedStore, interval_s: float) -> asyncio.Task[None]:
    """For the gateway lifespan: ``task = start_refresh_task(...)`` at start,
    ``task.cancel()`` at shutdown. Needs a running event loop."""
    task = asyncio.get_running_loop().create_task(store.run_forever(interval_s),
                                                  name="linkguard-feed-refresh")
    task.add_done_callback(_log_crash)
    return task


def _log_crash(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            log.error("feed refresh stopped", exc_info=task.exception())
