"""Engines and migrations: up and down on real PostgreSQL and SQLite, matching the tables."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from linkguard.adapters.sql import downgrade, ensure_schema, make_engine, upgrade
from linkguard.adapters.sql.engine import default_database_url, normalise_url
from linkguard.adapters.sql.migrate import current_revision, head_revision
from linkguard.adapters.sql.schema import metadata
from tests.adapters.conftest import PG_SERVER, create_pg_database, drop_pg_database, pg_url_for

TABLES = {"list_entries", "list_version", "api_keys", "click_events", "audit_events", "nonces",
          "access_requests"}


@pytest.fixture
def empty_pg() -> Iterator[Engine]:
    name = create_pg_database("linkguard_migrate")
    engine = make_engine(pg_url_for(PG_SERVER, name))
    yield engine
    engine.dispose()
    drop_pg_database(name)


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["empty_sqlite", "empty_pg"])
def empty(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(request.param)
    return engine


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_up_down_up(empty: Engine) -> None:
    assert current_revision(empty) is None
    upgrade(empty)
    assert current_revision(empty) == head_revision()
    assert set(inspect(empty).get_table_names()) == TABLES | {"alembic_version"}
    assert differences(empty) == []  # the migrations build exactly the tables the code uses
    with empty.connect() as connection:
        assert connection.execute(text("SELECT version FROM list_version")).all() == [(0,)]
    downgrade(empty, "base")
    assert current_revision(empty) is None
    assert set(inspect(empty).get_table_names()) <= {"alembic_version"}
    upgrade(empty)
    assert differences(empty) == []


def test_retro_hunt_indexes_exist(empty: Engine) -> None:
    upgrade(empty)
    indexes = {tuple(i["column_names"]) for i in inspect(empty).get_indexes("click_events")}
    assert {("registrable_domain", "at", "id"), ("recipient_key", "at", "id"), ("at", "id"),
            ("destination_key",)} <= indexes


def test_ensure_schema_is_idempotent(empty: Engine) -> None:
    ensure_schema(empty)
    ensure_schema(empty)
    assert current_revision(empty) == head_revision()


def test_replicas_starting_together_migrate_once(empty_pg: Engine) -> None:
    start = threading.Barrier(3)

    def boot(_: int) -> None:
        start.wait()
        ensure_schema(empty_pg)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(boot, range(3)))
    assert current_revision(empty_pg) == head_revision()


def test_destination_compares_by_code_point_on_postgres(pg_engine: Engine) -> None:
    with pg_engine.connect() as connection:
        collation = connection.execute(text(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'click_events' AND column_name = 'destination'")).scalar()
    assert collation == "C"


def test_sqlite_runs_in_wal_mode(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
    ("postgres://u:p@db:5433/x", "postgresql+psycopg://u:p@db:5433/x"),
    ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
    ("sqlite:///var/linkguard.db", "sqlite:///var/linkguard.db"),
])
def test_urls(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u@db/x", "redis://localhost"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        normalise_url(url)


def test_default_is_a_file_in_the_data_dir(tmp_path: Path) -> None:
    url = default_database_url(tmp_path / "data")
    assert url == f"sqlite:///{tmp_path}/data/linkguard.db"
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    assert (tmp_path / "data" / "linkguard.db").exists()
