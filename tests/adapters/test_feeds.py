"""Feeds: parsers on real-format samples, the index, the store (files, downloads, failures)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkguard.adapters.feeds import FeedSource, FeedStore, parse_feed_sources, start_refresh_task
from linkguard.core.feeds import (
    FeedFormatError,
    FeedIndex,
    parse_feed,
    parse_openphish,
    parse_phishtank_json,
    parse_phishtank_tsv,
    parse_urlhaus_csv,
)
from linkguard.core.url import ParsedUrl, parse_url
from tests.adapters.local_http import Reply, serving

SAMPLES = Path(__file__).resolve().parent / "feeds"
SHARED_DUMP = (Path(__file__).resolve().parents[3] / "shared" / "data" / "phishing"
               / "phishtank_verified_online_2021-03-14.tsv")


def url(text: str) -> ParsedUrl:
    parsed = parse_url(text)
    assert isinstance(parsed, ParsedUrl)
    return parsed


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def test_openphish() -> None:
    feed = parse_openphish(sample("openphish.txt"))
    assert [u.href for u, _ in feed.entries] == [
        "https://secure-login.paypa1-verify.example/signin", "http://evil.example/Path?q=1#frag",
        "https://whole-site.example/", "https://sites.google.com/"]
    assert feed.skipped == 2  # the sentence and javascript:


def test_urlhaus() -> None:
    feed = parse_urlhaus_csv(sample("urlhaus.csv"))
    assert [u.href for u, _ in feed.entries] == [
        "http://198.51.100.7:38472/i",
        "https://compromised-blog.example/wp-content/uploads/inv_2026.zip"]
    assert feed.entries[0][1] == datetime(2026, 11, 27, 9, 58, 5, tzinfo=UTC)
    assert feed.skipped == 2  # "https://a, b" and the broken row


def test_phishtank_json() -> None:
    feed = parse_phishtank_json(sample("phishtank.json"))
    assert [u.href for u, _ in feed.entries] == ["https://bank-verify.example/login.php"]
    assert feed.entries[0][1] == datetime(2026, 11, 26, 22, 10, 40, tzinfo=UTC)
    assert feed.skipped == 3  # offline, a number for a URL, a string for an entry


@pytest.mark.parametrize(("kind", "text"), [
    ("phishtank", "{not json"), ("phishtank", '{"url": "https://x.example/"}'),
    ("phishtank", "[" * 100_000), ("phishtank_tsv", "id\tdate\nhttps://x.example/\t1\n"),
    ("urlhaus", '"1","2","no url here"\n"3","4","nor here"\n'), ("nosuchfeed", ""),
])
def test_not_the_announced_format(kind: str, text: str) -> None:
    with pytest.raises(FeedFormatError):
        parse_feed(kind, text)


@pytest.mark.parametrize("kind", ["openphish", "urlhaus", "phishtank_tsv"])
def test_empty_feeds_are_empty(kind: str) -> None:
    assert parse_feed(kind, "").entries == ()


def test_tsv_rows_of_the_wrong_width_are_skipped() -> None:
    feed = parse_phishtank_tsv("phish_id\tsubmission_time\turl\n1\t2021-03-14T07:31:24+00:00\t"
                               "https://a.example/x\n2\tonly-two\n\n3\tnot-a-date\thttps://b.example/\n")
    assert [(u.href, d) for u, d in feed.entries] == [
        ("https://a.example/x", datetime(2021, 3, 14, 7, 31, 24, tzinfo=UTC)),
        ("https://b.example/", None)]
    assert feed.skipped == 1


def index() -> FeedIndex:
    shared = {"sites.google.com"}
    return FeedIndex.build([parse_openphish(sample("openphish.txt")),
                            parse_urlhaus_csv(sample("urlhaus.csv"))],
                           shared_host=shared.__contains__)


@pytest.mark.parametrize(("link", "matched"), [
    ("https://secure-login.paypa1-verify.example/signin", ["openphish"]),
    ("http://EVIL.example/Path?q=1", ["openphish"]),  # normalised, fragment ignored
    ("http://evil.example/Path?q=1#other", ["openphish"]),
    ("https://whole-site.example/any/page", ["openphish"]),  # the feed listed the site root
    ("https://compromised-blog.example/wp-content/uploads/inv_2026.zip", ["urlhaus"]),
    ("http://198.51.100.7:38472/i", ["urlhaus"]),
])
def test_index_hits(link: str, matched: list[str]) -> None:
    assert [h.source for h in index().lookup(url(link))] == matched


@pytest.mark.parametrize("link", [
    "https://secure-login.paypa1-verify.example/signin/other",
    "http://evil.example/Path?q=2",
    "https://compromised-blog.example/",  # one file listed: not the whole site
    "https://sites.google.com/view/anyone",  # a shared platform is never listed whole
    "https://whole-site.example.net/",
])
def test_index_near_misses(link: str) -> None:
    assert index().lookup(url(link)) == ()


def test_hit_names_the_source_and_the_match() -> None:
    hit = index().lookup(url("https://whole-site.example/x"))[0]
    assert (hit.source, hit.matched) == ("openphish", "whole-site.example")


@pytest.mark.data
def test_shared_phishtank_dump() -> None:
    if not SHARED_DUMP.exists():
        pytest.skip("shared sample data (../shared/data/phishing) is absent")
    feed = parse_feed("phishtank_tsv", SHARED_DUMP.read_text(encoding="utf-8"))
    assert feed.source == "phishtank"
    assert len(feed.entries) > 11_000
    assert feed.skipped < 100
    built = FeedIndex.build([feed])
    hits = built.lookup(url("https://www.viptbslook.tonohost.com/"))
    assert hits
    assert hits[0].listed == datetime(2021, 3, 14, 7, 36, 16, tzinfo=UTC)


# --- the store ----------------------------------------------------------------------------


def test_sources_from_settings_strings() -> None:
    assert parse_feed_sources(["openphish:https://feeds.example/feed.txt",
                               " urlhaus:/srv/csv_recent.csv"]) == [
        FeedSource("openphish", "https://feeds.example/feed.txt"),
        FeedSource("urlhaus", "/srv/csv_recent.csv")]
    for bad in ("openphish", "rss:https://x.example/", "urlhaus:"):
        with pytest.raises(ValueError, match="kind:location"):
            parse_feed_sources([bad])


def test_store_loads_files_and_reports_problems(tmp_path: Path) -> None:
    store = FeedStore([FeedSource("openphish", str(SAMPLES / "openphish.txt")),
                       FeedSource("phishtank", str(tmp_path / "absent.json")),
                       FeedSource("urlhaus", "https://feeds.example/csv"),
                       FeedSource("phishtank_tsv", str(SAMPLES / "openphish.txt"))],
                      cache_dir=tmp_path)
    reports = {r.source + ":" + str(i): r for i, r in enumerate(store.load_local())}
    assert reports["openphish:0"].entries == 4
    assert "cannot read" in reports["phishtank:1"].error
    assert "not downloaded yet" in reports["urlhaus:2"].error
    assert "no 'url' column" in reports["phishtank:3"].error
    assert store.lookup(url("https://whole-site.example/"))


def test_refresh_downloads_caches_and_keeps_entries_on_failure(tmp_path: Path) -> None:
    with serving() as server:
        server.route("/feed.txt", Reply(200, sample("openphish.txt").encode()))
        server.route("/urlhaus.csv", Reply(200, sample("urlhaus.csv").encode()))
        sources = [FeedSource("openphish", f"{server.base}/feed.txt"),
                   FeedSource("urlhaus", f"{server.base}/urlhaus.csv")]
        store = FeedStore(sources, cache_dir=tmp_path)
        reports = asyncio.run(store.refresh())
        assert [(r.source, r.entries, r.error) for r in reports] == [
            ("openphish", 4, ""), ("urlhaus", 2, "")]
        assert (tmp_path / "openphish.feed").exists()
        # The feed breaks: its previous entries stay, the error is reported.
        server.route("/feed.txt", Reply(503, b"maintenance"))
        reports = asyncio.run(store.refresh())
        assert "HTTP 503" in reports[0].error
        assert store.lookup(url("https://whole-site.example/"))
    # A restart without network serves the cached downloads.
    restarted = FeedStore(sources, cache_dir=tmp_path)
    assert [r.entries for r in restarted.load_local()] == [4, 2]


def test_refresh_task_runs_in_the_background(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("https://first.example/x\n", encoding="utf-8")
    store = FeedStore([FeedSource("openphish", str(feed))])

    async def scenario() -> bool:
        task = start_refresh_task(store, interval_s=0.05)
        try:
            deadline = time.monotonic() + 10
            while not store.lookup(url("https://first.example/x")):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            feed.write_text("https://second.example/y\n", encoding="utf-8")
            while not store.lookup(url("https://second.example/y")):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            return not store.lookup(url("https://first.example/x"))
        finally:
            task.cancel()

    assert asyncio.run(scenario())
