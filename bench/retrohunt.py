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
from linkguard.adapters.sql.schema import click_events
from linkguard.ports import ClickAction, ClickKind, ClickQuery

PHISH = "paypa1-secure.example"  # the domain being hunted: a few hundred clicks
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 60  # the log spans two months
PAGE = 1000

COLUMNS = ("at", "kind", "action", "token_id", "message_id", "recipient", "recipient_key",
           "destination", "destination_key", "registrable_domain", "verdict", "score", "reasons",
           "client_ip", "user_agent")


def batches(count: int, rng: random.Random, size: int = 20_000) -> Iterator[bytes]:
    """Click events shaped like a mid-size organisation's, as COPY text in batches: 20,000
    recipients, 50,000 domains with a long tail (a few popular domains take most clicks), a
    tenth scanners. Random choices are drawn a batch at a time (the generator, not the
    database, is what limits the load rate)."""
    domains = [f"site{n}.example" for n in range(50_000)]
    cumulative = list(_accumulate([1 / (n + 1) for n in range(50_000)]))
    recipients = [f"user{n}@corp.example" for n in range(20_000)]
    actions = [str(ClickAction.REDIRECT)] * 90 + [str(ClickAction.WARNED)] * 6 + [
        str(ClickAction.BLOCKED)] * 3 + [str(ClickAction.CONFIRM_REQUIRED)]
    span = DAYS * 86400
    for first in range(0, count, size):
        n_rows = min(size, count - first)
        picked = rng.choices(domains, cum_weights=cumulative, k=n_rows)
        people = rng.choices(recipients, k=n_rows)
        did = rng.choices(actions, k=n_rows)
        lines = []
        for i in range(n_rows):
            n = first + i
            at = NOW - timedelta(seconds=rng.random() * span)
            domain, action, verdict, reasons = picked[i], did[i], "allow", ""
            if n % 2500 == 0:  # the hunted domain: 400 clicks over the two months
                domain, verdict, reasons = PHISH, "confirm", "lookalike.typo path.lure"
                action = str(ClickAction.CONFIRMED if n % 7500 == 0
                             else ClickAction.CONFIRM_REQUIRED)
            kind = str(ClickKind.SCANNER if rng.random() < 0.1 else ClickKind.HUMAN)
            lines.append(f"{at.isoformat()}\t{kind}\t{action}\ttok{n}\t<m{n // 3}@mail.example>"
                         f"\t{people[i]}\t{people[i]}\thttps://www.{domain}/p/{n % 977}"
                         f"\thttps://www.{domain}/p/{n % 977}"
                         f"\t{domain}\t{verdict}\t{rng.random() * 10:.1f}\t{reasons}"
                         "\t198.51.100.0/24\tMozilla/5.0\n")
        yield "".join(lines).encode()


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def load(engine: Engine, url: str, count: int) -> float:
    """COPY into the table without its secondary indexes, then build them (the usual bulk
    load: one sort per index instead of a million index insertions); the same index
    definitions as the migrations, from the schema."""
    started = time.perf_counter()
    for index in click_events.indexes:
        index.drop(engine)
    rng = random.Random(20261127)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        statement = sql.SQL("COPY click_events ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
        with cursor.copy(statement) as copy:
            for batch in batches(count, rng):
                copy.write(batch)
    for index in click_events.indexes:
        index.create(engine)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE click_events")
    return time.perf_counter() - started


def hunt(log: SqlClickLog, domain: str) -> tuple[set[str], set[str], int]:
    """Everyone who clicked since Monday, and who of them confirmed: the store's grouped
    count (what GET /v1/admin/clicks/hunt asks for), one query."""
    tallies = log.tally(ClickQuery(registrable_domain=domain, since=MONDAY))
    clicked = {t.recipient for t in tallies}
    confirmed = {t.recipient for t in tallies if t.action == ClickAction.CONFIRMED}
    return clicked, confirmed, sum(t.count for t in tallies)


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
        seconds = load(engine, url, args.rows)
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
