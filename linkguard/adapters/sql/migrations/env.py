"""Alembic environment: always run programmatically, on a connection handed in by ``migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from linkguard.adapters.sql.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations with 'linkguard db upgrade' (linkguard.adapters.sql."
                       "migrate), which passes the connection; there is no alembic.ini")

context.configure(connection=connection, target_metadata=metadata,
                  # SQLite cannot ALTER most things: later migrations copy-and-move tables.
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
