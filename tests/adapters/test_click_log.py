"""ClickLog contract: every implementation answers the same searches the same way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from linkguard.adapters.sql.clicklog import prefix_successor
from linkguard.ports import (
    ClickAction,
    ClickEvent,
    ClickKind,
    ClickLog,
    ClickQuery,
    StoreUnavailableError,
)

# Factories of the implementations under contract (fixtures in conftest.py).
CLICK_LOGS = ["sqlite_click_log", "postgres_click_log", "memory_click_log"]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(params=CLICK_LOGS)
def click_log(request: pytest.FixtureRequest) -> ClickLog:
    log: ClickLog = request.getfixturevalue(request.param)
    return log


def event(minutes: float, *, domain: str = "example.com", recipient: str = "alice@example.org",
          destination: str = "", action: ClickAction = ClickAction.REDIRECT,
          kind: ClickKind = ClickKind.HUMAN, verdict: str = "allow") -> ClickEvent:
    return ClickEvent(at=T0 + timedelta(minutes=minutes), kind=kind, action=action,
                      token_id=f"t{minutes}", message_id="<m1@example.org>", recipient=recipient,
                      destination=destination or f"https://{domain}/p/{minutes}",
                      registrable_domain=domain, verdict=verdict, score=1.5,
                      reasons=("lookalike.typo", "path.lure"), client_ip="192.0.2.0/24",
                      user_agent="Mozilla/5.0")


def everything(log: ClickLog, query: ClickQuery, limit: int = 100) -> list[ClickEvent]:
    found: list[ClickEvent] = []
    cursor: str | None = None
    while True:
        page = log.search(query, limit=limit, cursor=cursor)
        found.extend(page.events)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


class TestClickLogContract:
    def test_round_trip_keeps_every_field(self, click_log: ClickLog) -> None:
        original = event(0)
        click_log.write_batch([original])
        (stored,) = click_log.search(ClickQuery()).events
        assert stored == original
        assert stored.at.tzinfo is not None
        assert stored.at.utcoffset() == timedelta(0)

    def test_times_in_other_zones_are_stored_as_the_same_instant(
            self, click_log: ClickLog) -> None:
        paris = T0.astimezone(ZoneInfo("Europe/Paris"))
        click_log.write_batch([ClickEvent(at=paris, kind=ClickKind.HUMAN,
                                          action=ClickAction.BLOCKED)])
        (stored,) = click_log.search(ClickQuery(since=T0, until=T0 + timedelta(seconds=1))).events
        assert stored.at == T0

    def test_empty_batch_and_empty_log(self, click_log: ClickLog) -> None:
        click_log.write_batch([])
        page = click_log.search(ClickQuery())
        assert page.events == ()
        assert page.next_cursor is None

    def test_newest_first(self, click_log: ClickLog) -> None:
        click_log.write_batch([event(m) for m in (5, 1, 9, 3)])
        assert [e.at for e in click_log.search(ClickQuery()).events] == [
            T0 + timedelta(minutes=m) for m in (9, 5, 3, 1)]

    @pytest.mark.parametrize(("query", "expected"), [
        (ClickQuery(registrable_domain="evil.example"), {2, 3}),
        (ClickQuery(registrable_domain="EVIL.example"), {2, 3}),
        (ClickQuery(recipient="bob@example.org"), {3}),
        (ClickQuery(recipient="Bob@Example.ORG"), {3}),  # addresses match without case
        (ClickQuery(verdict="confirm"), {2}),
        (ClickQuery(kind=ClickKind.SCANNER), {4}),
        (ClickQuery(action=ClickAction.CONFIRMED), {2}),
        (ClickQuery(since=T0 + timedelta(minutes=2)), {2, 3, 4}),  # since is inclusive
        (ClickQuery(until=T0 + timedelta(minutes=2)), {1}),  # until is exclusive
        (ClickQuery(registrable_domain="evil.example", action=ClickAction.CONFIRMED), {2}),
        (ClickQuery(registrable_domain="nobody.example"), set()),
    ])
    def test_filters(self, click_log: ClickLog, query: ClickQuery, expected: set[int]) -> None:
        click_log.write_batch([
            event(1),
            event(2, domain="evil.example", verdict="confirm", action=ClickAction.CONFIRMED),
            event(3, domain="evil.example", recipient="bob@example.org"),
            event(4, kind=ClickKind.SCANNER),
        ])
        found = {int((e.at - T0).total_seconds() // 60) for e in everything(click_log, query)}
        assert found == expected

    def test_destination_prefix_is_a_prefix_not_a_pattern(self, click_log: ClickLog) -> None:
        urls = ["https://files.example.com/shared/a", "https://files.example.com/shared/b%c",
                "https://files.example.com/sharedX", "https://files.example.com/shared_/z",
                "https://files.example.com/shareD/a", "https://files.example.co/shared/a",
                "https://files.example.com/shared"]
        click_log.write_batch([event(i, destination=u) for i, u in enumerate(urls)])

        def matching(prefix: str) -> set[str]:
            return {e.destination for e in everything(
                click_log, ClickQuery(destination_prefix=prefix))}

        assert matching("https://files.example.com/shared/") == {urls[0], urls[1]}
        # '%' and '_' are ordinary characters, never wildcards.
        assert matching("https://files.example.com/shared/b%") == {urls[1]}
        assert matching("https://files.example.com/shared_") == {urls[3]}
        assert matching("https://files.example.com/share_") == set()
        assert matching("https://files.example.com/shared") == {
            urls[0], urls[1], urls[2], urls[3], urls[6]}

    def test_long_destinations_and_odd_characters(self, click_log: ClickLog) -> None:
        long_url = "https://files.example.com/" + "a" * 6000 + "/end"
        odd = ClickEvent(at=T0, kind=ClickKind.SCANNER, action=ClickAction.REDIRECT,
                         destination=long_url, user_agent="Agent\u202e\U0001f600 é")
        click_log.write_batch([odd, event(1)])
        found = click_log.search(ClickQuery(destination_prefix=long_url[:5000])).events
        assert [e.destination for e in found] == [long_url]
        assert found[0].user_agent == "Agent\u202e\U0001f600 é"
        assert click_log.search(ClickQuery(destination_prefix=long_url + "x")).events == ()

    def test_cursor_pages_cover_everything_once_in_order(self, click_log: ClickLog) -> None:
        # Ties on the time are common (one batch, one second): the cursor must break them.
        events = [event(m // 3) for m in range(25)]
        click_log.write_batch(events)
        pages = []
        cursor: str | None = None
        while True:
            page = click_log.search(ClickQuery(), limit=10, cursor=cursor)
            pages.append(page.events)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [len(p) for p in pages] == [10, 10, 5]
        found = [e for p in pages for e in p]
        assert sorted(found, key=lambda e: e.token_id) == sorted(events, key=lambda e: e.token_id)
        assert [e.at for e in found] == sorted((e.at for e in found), reverse=True)
        assert len({(e.at, e.token_id, id(e)) for e in found}) == 25

    def test_cursor_with_filter_and_exact_page(self, click_log: ClickLog) -> None:
        click_log.write_batch([event(m, domain="evil.example") for m in range(4)]
                              + [event(m) for m in range(4)])
        first = click_log.search(ClickQuery(registrable_domain="evil.example"), limit=2)
        second = click_log.search(ClickQuery(registrable_domain="evil.example"), limit=2,
                                  cursor=first.next_cursor)
        assert second.next_cursor is None  # exactly 4: no empty third page
        assert {e.registrable_domain for e in first.events + second.events} == {"evil.example"}

    @pytest.mark.parametrize("cursor", ["", "garbage", "W10", "WyJ4IiwxXQ", "eyJhIjoxfQ"])
    def test_foreign_cursor_is_a_value_error(self, click_log: ClickLog, cursor: str) -> None:
        with pytest.raises(ValueError, match="cursor"):
            click_log.search(ClickQuery(), cursor=cursor)

    def test_retro_hunt_question(self, click_log: ClickLog) -> None:
        """Who clicked links to this domain since Monday, and who confirmed."""
        click_log.write_batch([
            event(-60 * 24, domain="evil.example", recipient="early@example.org"),
            event(10, domain="evil.example", recipient="alice@example.org",
                  action=ClickAction.CONFIRM_REQUIRED, verdict="confirm"),
            event(11, domain="evil.example", recipient="alice@example.org",
                  action=ClickAction.CONFIRMED, verdict="confirm"),
            event(12, domain="evil.example", recipient="bob@example.org",
                  action=ClickAction.CONFIRM_REQUIRED, verdict="confirm"),
            event(13, domain="good.example", recipient="carol@example.org"),
        ])
        clicked = {e.recipient for e in everything(
            click_log, ClickQuery(registrable_domain="evil.example", since=T0))}
        confirmed = {e.recipient for e in everything(click_log, ClickQuery(
            registrable_domain="evil.example", since=T0, action=ClickAction.CONFIRMED))}
        assert clicked == {"alice@example.org", "bob@example.org"}
        assert confirmed == {"alice@example.org"}

    def test_ping(self, click_log: ClickLog) -> None:
        click_log.ping()


class TestSqlClickLog:
    """What the SQL stores add to the contract: refusals the protocol leaves open."""

    @pytest.fixture(params=["sqlite_click_log", "postgres_click_log"])
    def click_log(self, request: pytest.FixtureRequest) -> ClickLog:
        log: ClickLog = request.getfixturevalue(request.param)
        return log

    def test_naive_times_are_refused(self, click_log: ClickLog) -> None:
        with pytest.raises(ValueError, match="naive"):
            click_log.write_batch([ClickEvent(at=datetime(2026, 1, 1), kind=ClickKind.HUMAN,
                                              action=ClickAction.BLOCKED)])

    @pytest.mark.parametrize("limit", [0, -1, 1001])
    def test_limit_is_bounded(self, click_log: ClickLog, limit: int) -> None:
        with pytest.raises(ValueError, match="limit"):
            click_log.search(ClickQuery(), limit=limit)


    def test_nul_characters_do_not_cost_the_batch(self, click_log: ClickLog) -> None:
        click_log.write_batch([ClickEvent(at=T0, kind=ClickKind.HUMAN,
                                          action=ClickAction.REDIRECT, user_agent="a\x00b"),
                               event(1)])
        agents = {e.user_agent for e in click_log.search(ClickQuery()).events}
        assert agents == {"a\ufffdb", "Mozilla/5.0"}


@pytest.mark.parametrize(("prefix", "successor"), [
    ("abc", "abd"),
    ("a", "b"),
    ("a\U0010ffff", "b"),
    ("\U0010ffff", None),
    ("a\ud7ff", "a\ue000"),
])
def test_prefix_successor(prefix: str, successor: str | None) -> None:
    assert prefix_successor(prefix) == successor


class TestTally:
    """The retro-hunt's grouped count: the same answer from every store."""

    def test_counts_by_recipient_kind_and_action(self, click_log: ClickLog) -> None:
        click_log.write_batch([
            event(1, recipient="Alice@Example.org"),
            event(2, recipient="alice@example.org", action=ClickAction.CONFIRMED),
            event(3, recipient="alice@example.org", kind=ClickKind.SCANNER),
            event(4, recipient="bob@example.org"),
            event(5, recipient="bob@example.org"),
            event(6, recipient="carol@example.org", domain="elsewhere.example"),
            event(-60, recipient="dave@example.org"),  # before "since"
        ])
        query = ClickQuery(registrable_domain="example.com", since=T0)
        found = {(t.recipient, t.kind, t.action): t for t in click_log.tally(query)}
        assert set(found) == {
            ("alice@example.org", ClickKind.HUMAN, ClickAction.REDIRECT),
            ("alice@example.org", ClickKind.HUMAN, ClickAction.CONFIRMED),
            ("alice@example.org", ClickKind.SCANNER, ClickAction.REDIRECT),
            ("bob@example.org", ClickKind.HUMAN, ClickAction.REDIRECT),
        }
        bob = found[("bob@example.org", ClickKind.HUMAN, ClickAction.REDIRECT)]
        assert bob.count == 2
        assert bob.first == T0 + timedelta(minutes=4)
        assert bob.last == T0 + timedelta(minutes=5)
        assert bob.first.tzinfo is not None
        alice = found[("alice@example.org", ClickKind.HUMAN, ClickAction.REDIRECT)]
        assert alice.count == 1

    def test_nothing_matches(self, click_log: ClickLog) -> None:
        click_log.write_batch([event(1)])
        assert click_log.tally(ClickQuery(registrable_domain="nowhere.example")) == []


class TestRetention:
    def test_prune_deletes_only_what_is_older(self, click_log: ClickLog) -> None:
        base = datetime(2026, 5, 1, tzinfo=UTC)
        click_log.write_batch([replace(event(i), at=base + timedelta(days=i)) for i in range(10)])
        cutoff = base + timedelta(days=4)
        assert click_log.prune(cutoff, batch=3) == 4  # in batches of three: 3 + 1
        left = everything(click_log, ClickQuery(), limit=100)
        assert min(e.at for e in left) == cutoff  # the cutoff itself is kept
        assert len(left) == 6
        assert click_log.prune(cutoff) == 0  # again: nothing

    def test_prune_refuses_naive_times_and_empty_batches(self, click_log: ClickLog) -> None:
        with pytest.raises(ValueError, match="timezone"):
            click_log.prune(datetime(2026, 5, 1))
        with pytest.raises(ValueError, match="batch"):
            click_log.prune(datetime(2026, 5, 1, tzinfo=UTC), batch=0)


def test_retention_runs_in_the_lifespan_and_survives_a_store_outage() -> None:
    from linkguard.adapters.memory import MemoryClickLog  # noqa: PLC0415
    from linkguard.service import ClickRetention  # noqa: PLC0415

    now = datetime(2026, 11, 28, tzinfo=UTC)
    log = MemoryClickLog()
    log.write_batch([replace(event(i), at=now - timedelta(days=d))
                     for i, d in enumerate((1, 179, 181, 400))])
    retention = ClickRetention(log, days=180, interval_s=3600, clock=lambda: now)
    assert retention.run_once() == 2
    assert len(log) == 2

    class Down(MemoryClickLog):
        def prune(self, before: datetime, *, batch: int = 10_000) -> int:  # noqa: ARG002
            raise StoreUnavailableError("click log: database unavailable")

    assert ClickRetention(Down(), days=1, clock=lambda: now).run_once() == 0
    with pytest.raises(ValueError, match="at least one day"):
        ClickRetention(log, days=0)
