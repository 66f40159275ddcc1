"""Retro-hunt on 1,000,000 click events in PostgreSQL: "who clicked links to this domain since
Monday, and who confirmed?"

Creates a database of its own (dropped at the end; ``--keep`` keeps it), migrates it with the
shipped migrations, loads the events with COPY, then answers the question through
``SqlClickLog.search`` (every page, 1,000 events per page) on a fresh connection ("cold":
first execution in a new process pool; the server's buffers and the OS page cache are not
dropped) and again ("warm"). The baseline, measured in the same run, is the same question with
index scans switched off, i.e. what it costs without the retro-hunt indexes. EXPLAIN shows
the plan of the first page.

    .venv/bin/python bench/retrohunt.py [--rows 1000000] [--server postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy import Engine, event

from linkguard.adapters.sql import SqlClickLog, ensure_schema, make_engine
from linkguard.adapters.sql.clicklog import search_statement
from linkguard.ports import ClickAction, ClickKind, ClickQuery

PHISH = "paypa1-secure.example"  # the domain being hunted: a few hundred clicks
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 60  # the log spans two months
PAGE = 1000

COLUMNS = ("at", "kind", "action", "token_id", "message_id", "recipient", "destination",
           "registrable_domain", "verdict", "score", "reasons", "client_ip", "user_agent")


def rows(count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    """Click events shaped like a mid-size organisation's: 20,000 recipients, 50,000 domains
    with a long tail (a few popular domains take most clicks), a tenth scanners."""
    domains = [f"site{n}.example" for n in range(50_000)]
    weights = [1 / (n + 1) for n in range(50_000)]
    cumulative = list(_accumulate(weights))
    recipients = [f"user{n}@corp.example" for n in range(20_000)]
    actions = [ClickAction.REDIRECT] * 90 + [ClickAction.WARNED] * 6 + [
        ClickAction.BLOCKED] * 3 + [ClickAction.CONFIRM_REQUIRED]
    span = DAYS * 86400
    for n in range(count):
        at = NOW - timedelta(seconds=rng.random() * span)
        if n % 2500 == 0:  # the hunted domain: 400 clicks over the two months
            domain, verdict = PHISH, "confirm"
            action = ClickAction.CONFIRMED if n % 7500 == 0 else ClickAction.CONFIRM_REQUIRED
        else:
            domain = rng.choices(domains, cum_weights=cumulative)[0]
            action, verdict = rng.choice(actions), "allow"
        kind = ClickKind.SCANNER if rng.random() < 0.1 else ClickKind.HUMAN
        yield (at, str(kind), str(action), f"tok{n}", f"<m{n // 3}@mail.example>",
               rng.choice(recipients), f"https://www.{domain}/p/{n % 977}", domain, verdict,
               round(rng.random() * 10, 1), "lookalike.typo path.lure" if verdict != "allow"
               else "", "198.51.100.0/24", "Mozilla/5.0")


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def load(url: str, count: int) -> float:
    started = time.perf_counter()
    rng = random.Random(20261127)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        statement = sql.SQL("COPY click_events ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
        with cursor.copy(statement) as copy:
            for row in rows(count, rng):
                copy.write_row(row)
        cursor.execute("ANALYZE click_events")
    return time.perf_counter() - started


def hunt(log: SqlClickLog, domain: str) -> tuple[set[str], set[str], int]:
    """Everyone who clicked since Monday, and who of them confirmed."""
    clicked: set[str] = set()
    events = 0
    cursor: str | None = None
    while True:
        page = log.search(ClickQuery(registrable_domain=domain, since=MONDAY), limit=PAGE,
                          cursor=cursor)
        events += len(page.events)
        clicked.update(e.recipient for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    confirmed: set[str] = set()
    cursor = None
    while True:
        page = log.search(ClickQuery(registrable_domain=domain, since=MONDAY,
                                     action=ClickAction.CONFIRMED), limit=PAGE, cursor=cursor)
        confirmed.update(e.recipient for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return clicked, confirmed, events


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@contextmanager
def no_index_scans(engine: Engine) -> Iterator[None]:
    """The baseline: the planner may only scan the table (what a missing index costs)."""
    def off(connection: object, _record: object) -> None:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SET enable_indexscan = off; SET enable_bitmapscan = off; "
                           "SET enable_indexonlyscan = off")

    event.listen(engine, "connect", off)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", off)
        engine.dispose()


def explain(engine: Engine, domain: str) -> str:
    statement = search_statement(ClickQuery(registrable_domain=domain, since=MONDAY),
                                 limit=PAGE)
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled),
                                          compiled.params).scalars()
        return "\n".join(plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--server", default=os.environ.get(
        "LINKGUARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    name = f"linkguard_bench_{os.getpid()}"
    base = args.server.rpartition("/")[0]
    with psycopg.connect(args.server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{base}/{name}"
    try:
        engine = make_engine(url)
        ensure_schema(engine)
        seconds = load(url, args.rows)
        print(f"loaded {args.rows:,} click events with COPY in {seconds:.1f} s "
              f"({args.rows / seconds:,.0f} rows/s)")
        engine.dispose()

        top = "site0.example"  # the most clicked domain: the worst case for the question
        for label, domain in (("hunted domain", PHISH), ("most-clicked domain", top)):
            engine = make_engine(url)  # a fresh pool: no connection, no prepared plans
            log = SqlClickLog(engine)
            cold = timed(lambda log=log, domain=domain: hunt(log, domain))
            warm = statistics.median(timed(lambda log=log, domain=domain: hunt(log, domain))
                                     for _ in range(5))
            clicked, confirmed, events = hunt(log, domain)
            with no_index_scans(engine):
                baseline = statistics.median(timed(lambda log=log, domain=domain: hunt(
                    log, domain)) for _ in range(3))
            print(f"\n{label} {domain}: {events:,} clicks since Monday by {len(clicked):,} "
                  f"people, {len(confirmed)} confirmed")
            print(f"  cold {cold * 1000:8.1f} ms   warm {warm * 1000:8.1f} ms (median of 5)   "
                  f"baseline without index scans {baseline * 1000:8.1f} ms   "
                  f"warm is {baseline / warm:,.0f}x faster; target < 1000 ms: "
                  f"{'ok' if max(cold, warm) < 1 else 'MISSED'}")
            engine.dispose()

        engine = make_engine(url)
        print(f"\nEXPLAIN of the first page ({PHISH}, since Monday, newest first):")
        print(explain(engine, PHISH))
        engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
