"""Run the Alembic migrations shipped inside the package, without an ``alembic.ini``.

``ensure_schema`` is what the gateway calls at start: it upgrades to the newest revision. On
PostgreSQL it holds a transaction-scoped advisory lock while doing so, so replicas starting
together migrate one after the other instead of racing to create the same tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from linkguard.adapters.sql.engine import write_tx
from linkguard.adapters.sql.errors import unavailable_as_store_error

_SCRIPTS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number; it only has to differ from other users of advisory locks.
_MIGRATION_LOCK = 0x6C696E6B67756172  # "linkguar"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def _locked(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": _MIGRATION_LOCK})


def upgrade(engine: Engine, revision: str = "head") -> None:
    with unavailable_as_store_error("migrations"), write_tx(engine) as connection:
        _locked(connection)
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    with unavailable_as_store_error("migrations"), write_tx(engine) as connection:
        _locked(connection)
        command.downgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with unavailable_as_store_error("migrations"), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # noqa: S101 - the package ships at least one revision
    return head


def ensure_schema(engine: Engine) -> None:
    """Upgrade to the newest revision when the database is behind (cheap when it is not)."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
