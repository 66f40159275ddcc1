"""NetworkFacts end to end: a local RDAP server, a local shortener, a feed; and the CLI."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linkguard.adapters.facts import NetworkFacts
from linkguard.adapters.feeds import FeedSource, FeedStore
from linkguard.adapters.rdap import RdapBootstrap, RdapClient
from linkguard.adapters.resolver import AddressPolicy, RedirectResolver, Resolution
from linkguard.bootstrap import build_facts
from linkguard.cli import app
from linkguard.core.model import AgeState, Facts
from linkguard.core.redirects import OpenRedirects
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.settings import Settings
from tests.adapters.local_http import LocalServer, Reply, serving
from tests.adapters.test_rdap import domain_object

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def url(text: str) -> ParsedUrl:
    parsed = parse_url(text)
    assert isinstance(parsed, ParsedUrl)
    return parsed


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    with serving() as server:
        server.route("/rdap/domain/young-shop.com", Reply(
            200, domain_object("young-shop.com", "2026-11-25T00:00:00Z")))
        server.route("/rdap/domain/slow-shop.com", Reply(
            200, domain_object("slow-shop.com", "2001-01-01T00:00:00Z"), delay_s=0.5))
        server.route("/x1", Reply(301, headers=(("Location", "https://www.young-shop.com/deal"),)))
        feed = tmp_path / "openphish.txt"
        feed.write_text(f"http://short.test:{server.port}/listed\n"
                        "https://phish.young-shop.com/\n", encoding="utf-8")
        yield server, feed


def facts_for(server: LocalServer, feed: Path) -> NetworkFacts:
    bootstrap = RdapBootstrap.parse(json.dumps({"services": [
        [["com"], [f"{server.base}/rdap/"]]]}))

    async def loopback(_host: str, _port: int) -> list[str]:
        return ["127.0.0.1"]

    store = FeedStore([FeedSource("openphish", str(feed))])
    store.load_local()
    return NetworkFacts(
        rdap=RdapClient(bootstrap), feeds=store, clock=lambda: NOW,
        resolver=RedirectResolver(shorteners={"short.test"}, open_redirects=OpenRedirects(),
                                  policy=AddressPolicy(allow_loopback=True), resolve=loopback))


def gather(facts: NetworkFacts, link: str, budget_s: float = 2.0) -> Facts:
    async def once() -> Facts:
        try:
            return await facts.gather(url(link), budget_s=budget_s)
        finally:
            await facts.aclose()
    return asyncio.run(once())


def test_shortener_is_followed_and_the_final_domain_aged(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    found = gather(facts_for(server, feed), f"http://short.test:{server.port}/x1")
    assert found.redirect_chain == (f"http://short.test:{server.port}/x1",
                                    "https://www.young-shop.com/deal")
    assert found.domain_age.state is AgeState.KNOWN
    assert found.domain_age.age_days == 2
    assert found.feed_hits == ()


def test_feed_hits_anywhere_in_the_chain(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    server.route("/listed", Reply(302, headers=(("Location", "https://phish.young-shop.com/a"),)))
    found = gather(facts_for(server, feed), f"http://short.test:{server.port}/listed")
    assert [h.matched for h in found.feed_hits] == [
        f"http://short.test:{server.port}/listed", "phish.young-shop.com"]


def test_slow_rdap_is_unknown_within_budget_then_cached(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    facts = facts_for(server, feed)

    async def click_twice() -> tuple[Facts, Facts]:
        first = await facts.gather(url("https://slow-shop.com/"), budget_s=0.1)
        assert facts.rdap is not None
        for _ in range(100):
            if facts.rdap.cached("slow-shop.com", NOW) is not None:
                break
            await asyncio.sleep(0.05)
        second = await facts.gather(url("https://slow-shop.com/"), budget_s=0.1)
        await facts.aclose()
        return first, second

    first, second = asyncio.run(click_twice())
    assert first.domain_age.state is AgeState.UNKNOWN
    assert "budget" in first.domain_age.detail
    assert second.domain_age.state is AgeState.KNOWN


def test_ip_literals_and_disabled_parts_are_not_consulted() -> None:
    found = gather(NetworkFacts(), "https://www.example.com/")
    assert found == Facts(redirect_chain=("https://www.example.com/",))
    assert gather(NetworkFacts(), "http://198.51.100.7/").domain_age.state is \
        AgeState.NOT_CONSULTED


def test_private_suffix_names_are_not_asked(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    facts = facts_for(server, feed)
    found = gather(facts, "https://alice.github.io/login")
    assert found.domain_age.state is AgeState.NOT_CONSULTED
    assert server.seen == []


def test_errors_inside_never_escape() -> None:
    class Broken(RedirectResolver):
        async def resolve(self, url: ParsedUrl, *, budget_s: float) -> Resolution:
            raise RuntimeError(f"bug on {url.host} with {budget_s}")

    facts = NetworkFacts(resolver=Broken(shorteners={"bit.ly"}, open_redirects=OpenRedirects()))
    found = gather(facts, "https://bit.ly/abc")
    assert found.domain_age.state is AgeState.UNKNOWN
    assert "RuntimeError" in found.domain_age.detail
    assert found.redirect_chain == ("https://bit.ly/abc",)


def test_prefetch_from_synchronous_code_warms_the_cache(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    facts = facts_for(server, feed)
    facts.prefetch([url("https://young-shop.com/a"), url("https://www.young-shop.com/b"),
                    url("mailto:someone@example.org")])
    assert facts.rdap is not None
    deadline = time.monotonic() + 10
    try:
        while facts.rdap.cached("young-shop.com", NOW) is None:
            assert time.monotonic() < deadline, "prefetch did not fill the cache"
            time.sleep(0.02)
    finally:
        facts.close()  # stops the background loop and closes its connections
    assert facts.rdap.requests == 1  # two links, one registrable domain


def test_prefetch_on_a_running_loop(world) -> None:  # type: ignore[no-untyped-def]
    server, feed = world
    facts = facts_for(server, feed)

    async def rewrite_then_click() -> Facts:
        facts.prefetch([url("https://young-shop.com/")])
        await asyncio.sleep(0)
        assert facts.rdap is not None
        for _ in range(200):
            if facts.rdap.cached("young-shop.com", NOW) is not None:
                break
            await asyncio.sleep(0.02)
        found = await facts.gather(url("https://young-shop.com/"), budget_s=0.0)
        await facts.aclose()
        return found

    assert asyncio.run(rewrite_then_click()).domain_age.age_days == 2


# --- composition and CLI ------------------------------------------------------------------


def test_build_facts_from_settings(tmp_path: Path) -> None:
    off = build_facts(Settings(facts_enabled=False, data_dir=tmp_path))
    assert (off.rdap, off.resolver, off.feeds) == (None, None, None)
    on = build_facts(Settings(data_dir=tmp_path, rdap_budget_ms=300, max_redirect_hops=2,
                              feed_sources=[f"openphish:{tmp_path / 'none.txt'}"]))
    assert on.budget_s == pytest.approx(0.3)
    assert on.rdap is not None
    assert on.rdap.bootstrap.servers_for("example.com")
    assert on.resolver is not None
    assert on.resolver.max_hops == 2
    assert on.resolver.open_redirects.listed(url("https://l.facebook.com/l.php"))
    assert on.feeds is not None


runner = CliRunner()


def test_cli_update_bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKGUARD_DATA_DIR", str(tmp_path))
    with serving() as server:
        server.route("/dns.json", Reply(200, json.dumps({"publication": "2026-11-01", "services": [
            [["com", "net"], ["https://rdap.example/"]]]}).encode()))
        server.route("/broken.json", Reply(200, b"<html>"))
        ok = runner.invoke(app, ["rdap", "update-bootstrap", "--url", f"{server.base}/dns.json"])
        bad = runner.invoke(app, ["rdap", "update-bootstrap", "--url",
                                  f"{server.base}/broken.json"])
    assert ok.exit_code == 0, ok.output
    assert "2 TLDs" in ok.output
    installed = tmp_path / "rdap" / "dns.json"
    assert RdapBootstrap.load(installed).servers_for("a.net") == ("https://rdap.example/",)
    assert bad.exit_code == 1
    assert "not JSON" in bad.output
    assert RdapBootstrap.load(installed).servers_for("a.com")  # the good file stayed


def test_cli_feeds_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKGUARD_DATA_DIR", str(tmp_path))
    feed = tmp_path / "feed.txt"
    feed.write_text("https://a.example/x\nhttps://b.example/\n", encoding="utf-8")
    monkeypatch.setenv("LINKGUARD_FEED_SOURCES", f"openphish:{feed}")
    result = runner.invoke(app, ["feeds", "update"])
    assert result.exit_code == 0, result.output
    assert "2 entries" in result.output
    monkeypatch.setenv("LINKGUARD_FEED_SOURCES", f"openphish:{feed},urlhaus:{tmp_path}/none")
    assert runner.invoke(app, ["feeds", "update"]).exit_code == 1
    monkeypatch.setenv("LINKGUARD_FEED_SOURCES", "rss:https://x.example/")
    assert runner.invoke(app, ["feeds", "update"]).exit_code == 2


def test_cli_check_online_asks_rdap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`linkguard check` without --offline judges with the domain's age, like a click."""
    registered = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    with serving() as server:
        server.route("/rdap/domain/young-shop.com",
                     Reply(200, domain_object("young-shop.com", registered)))
        server.route("/rdap/domain/old-shop.com",
                     Reply(200, domain_object("old-shop.com", "2001-01-01T00:00:00Z")))
        bootstrap = tmp_path / "dns.json"
        bootstrap.write_text(json.dumps({"services": [[["com"], [f"{server.base}/rdap/"]]]}),
                             encoding="utf-8")
        monkeypatch.setenv("LINKGUARD_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("LINKGUARD_RDAP_BOOTSTRAP_FILE", str(bootstrap))
        monkeypatch.setenv("LINKGUARD_FEED_SOURCES", "")
        online = runner.invoke(app, ["check", "--json", "https://young-shop.com/",
                                     "https://old-shop.com/"])
        offline = runner.invoke(app, ["check", "--json", "--offline", "https://young-shop.com/"])
    assert online.exit_code == 0, online.output
    young, old = (json.loads(line) for line in online.output.splitlines())
    assert (young["url"], old["url"]) == ("https://young-shop.com/", "https://old-shop.com/")
    assert "domain.young" in [r["code"] for r in young["reasons"]]
    assert young["verdict"] != "allow"
    assert old["verdict"] == "allow"
    assert "domain.young" not in offline.output
