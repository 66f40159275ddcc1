"""The audit log in SQL. Stores write their own audit rows in the same transaction as the change
they describe (``insert_audit``): a change without its audit row cannot be committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from linkguard.adapters.sql.engine import read_tx, write_tx
from linkguard.adapters.sql.errors import unavailable_as_store_error
from linkguard.adapters.sql.schema import audit_events
from linkguard.ports import AuditEvent


def insert_audit(connection: Connection, *, at: datetime, actor: str, action: str,
                 object_type: str, object_id: str = "", before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None) -> None:
    if not actor:
        raise ValueError("every change needs an actor for the audit log")
    connection.execute(audit_events.insert().values(
        at=at, actor=actor, action=action, object_type=object_type, object_id=object_id,
        before=before, after=after))


def _event(row: Any) -> AuditEvent:
    return AuditEvent(at=row.at, actor=row.actor, action=row.action,
                      object_type=row.object_type, object_id=row.object_id, before=row.before,
                      after=row.after, id=row.id)


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, event: AuditEvent) -> None:
        with unavailable_as_store_error("audit log"), write_tx(self._engine) as connection:
            insert_audit(connection, at=event.at, actor=event.actor, action=event.action,
                         object_type=event.object_type, object_id=event.object_id,
                         before=event.before, after=event.after)

    def recent(self, *, limit: int = 100, before_id: int | None = None,
               object_type: str | None = None) -> list[AuditEvent]:
        statement = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(audit_events.c.id < before_id)
        if object_type is not None:
            statement = statement.where(audit_events.c.object_type == object_type)
        with unavailable_as_store_error("audit log"), read_tx(self._engine) as connection:
            return [_event(row) for row in connection.execute(statement)]
