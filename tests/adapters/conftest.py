"""Real servers for the store tests: PostgreSQL, Redis, and SQLite files.

PostgreSQL: a fresh database per test session (per worker), created over a real connection to
``LINKGUARD_TEST_POSTGRES_URL`` (default: the local server), migrated with the shipped Alembic
migrations, emptied between tests and dropped at the end. Redis: ``LINKGUARD_TEST_REDIS_URL``,
with a key prefix of its own per test. Tests that need a server skip, saying which and why,
only when it really cannot be reached; ``.ci/run`` starts both before the suite.

The ``*_<store>`` fixtures are the store factories the contract suites are parametrised over:
adding an implementation to a suite is adding its fixture name to that suite's list.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy import Engine, text

from linkguard.adapters.memory import MemoryClickLog, MemoryNonceStore, MemoryRateLimiter
from linkguard.adapters.redis_stores import RedisNonceStore, RedisRateLimiter, make_redis
from linkguard.adapters.sql import (
    SqlApiKeyStore,
    SqlAuditLog,
    SqlClickLog,
    SqlListStore,
    SqlNonceStore,
    ensure_schema,
    make_engine,
)
from linkguard.adapters.sql.schema import metadata

PG_SERVER = os.environ.get("LINKGUARD_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LINKGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# --- PostgreSQL -----------------------------------------------------------------------------


def pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the server's maintenance database (skips if unreachable)."""
    try:
        return psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER} ({error}); .ci/run starts it")


def pg_url_for(url: str, database: str) -> str:
    """``url`` with another database name (the test URL has no query string)."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def create_pg_database(prefix: str = "linkguard_test") -> str:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with pg_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_pg_database(name: str) -> None:
    with pg_admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a fresh database for this session, migrated to the newest revision."""
    name = create_pg_database()
    url = pg_url_for(PG_SERVER, name)
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_session_engine(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database, pool_size=10)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = [t.name for t in metadata.sorted_tables if t.name != "list_version"]
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
        connection.execute(text("UPDATE list_version SET version = 0"))


@pytest.fixture
def pg_engine(pg_session_engine: Engine) -> Engine:
    """The session database, emptied before the test (stores commit their own work, so a
    rollback per test would not undo it)."""
    _empty(pg_session_engine)
    return pg_session_engine


# --- SQLite ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once; each test gets a copy (migrations still run every
    session, on the template)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "linkguard.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite_engine", "pg_engine"])
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(request.param)
    return engine


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_session_client() -> Iterator[redis.Redis]:
    client = make_redis(REDIS_URL, timeout_s=2.0)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error}); .ci/run starts it")
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_session_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"linkguard-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(redis_session_client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        redis_session_client.delete(*keys)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A private redis-server on its own port, which a test can stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (needed to stop and restart Redis)")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                probe.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


# --- store factories for the contract suites ------------------------------------------------


@pytest.fixture
def sqlite_click_log(sqlite_engine: Engine) -> SqlClickLog:
    return SqlClickLog(sqlite_engine)


@pytest.fixture
def postgres_click_log(pg_engine: Engine) -> SqlClickLog:
    return SqlClickLog(pg_engine)


@pytest.fixture
def sqlite_nonce_store(sqlite_engine: Engine) -> SqlNonceStore:
    return SqlNonceStore(sqlite_engine)


@pytest.fixture
def postgres_nonce_store(pg_engine: Engine) -> SqlNonceStore:
    return SqlNonceStore(pg_engine)


@pytest.fixture
def redis_nonce_store(redis_session_client: redis.Redis, redis_prefix: str) -> RedisNonceStore:
    return RedisNonceStore(redis_session_client, prefix=redis_prefix)


@pytest.fixture
def redis_rate_limiter(redis_session_client: redis.Redis,
                       redis_prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_session_client, prefix=redis_prefix)


@pytest.fixture
def sqlite_list_store(sqlite_engine: Engine) -> SqlListStore:
    return SqlListStore(sqlite_engine)


@pytest.fixture
def postgres_list_store(pg_engine: Engine) -> SqlListStore:
    return SqlListStore(pg_engine)


@pytest.fixture
def sqlite_api_key_store(sqlite_engine: Engine) -> SqlApiKeyStore:
    return SqlApiKeyStore(sqlite_engine)


@pytest.fixture
def postgres_api_key_store(pg_engine: Engine) -> SqlApiKeyStore:
    return SqlApiKeyStore(pg_engine)


@pytest.fixture
def sqlite_audit_log(sqlite_engine: Engine) -> SqlAuditLog:
    return SqlAuditLog(sqlite_engine)


@pytest.fixture
def postgres_audit_log(pg_engine: Engine) -> SqlAuditLog:
    return SqlAuditLog(pg_engine)


# --- the in-process stores (linkguard.adapters.memory) under the same contracts ---------------


@pytest.fixture
def memory_click_log() -> MemoryClickLog:
    return MemoryClickLog()


@pytest.fixture
def memory_nonce_store() -> MemoryNonceStore:
    return MemoryNonceStore()


@pytest.fixture
def memory_rate_limiter() -> MemoryRateLimiter:
    return MemoryRateLimiter()
