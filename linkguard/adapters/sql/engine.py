"""Engine creation: one URL picks the backend (``sqlite:///…`` or ``postgresql://…``).

SQLite is the embedded default: a file in the data directory, WAL journal (readers never wait
for the writer) and a busy timeout (a second writer waits instead of failing at once). Write
transactions on SQLite start with ``BEGIN IMMEDIATE`` so two writers serialise at BEGIN rather
than failing half-way when one tries to upgrade its read lock (SQLite docs, "Transaction").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_FILE = "linkguard.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Marks a connection whose transaction writes (see ``write_tx``).
_WRITE = "linkguard_write"


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DEFAULT_FILE}"


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver; refuse others."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: "
                     "use sqlite:///path/to/file.db or postgresql://user@host/db")


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    """An engine for ``url``. Nothing connects until first use."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                             "check_same_thread": False})
        _sqlite_events(engine)
        return engine
    # Every network call has a timeout: connecting, and each statement on the server.
    return create_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True,
                         connect_args={"connect_timeout": 5,
                                       "options": "-c statement_timeout=30000"})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_events(engine: Engine) -> None:
    # pysqlite opens transactions lazily and on its own schedule; take control of BEGIN, as
    # the SQLAlchemy SQLite dialect docs ("Serializable isolation / Savepoints") recommend.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: commits on success, rolls back on error."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection
