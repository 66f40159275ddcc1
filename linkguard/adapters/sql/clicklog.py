"""The click log in SQL: bulk writes, and newest-first search with an opaque keyset cursor."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, delete, func, select, tuple_

from linkguard.adapters.sql.engine import read_tx, write_tx
from linkguard.adapters.sql.errors import ping, unavailable_as_store_error
from linkguard.adapters.sql.schema import DESTINATION_KEY_CHARS, click_events
from linkguard.ports import (
    ClickAction,
    ClickEvent,
    ClickKind,
    ClickPage,
    ClickQuery,
    ClickTally,
)

MAX_LIMIT = 1000
_COLUMNS = ("at", "kind", "action", "token_id", "message_id", "recipient", "destination",
            "registrable_domain", "verdict", "score", "client_ip", "user_agent")


class CursorError(ValueError):
    """A cursor that this store did not hand out (a 422 for the admin API)."""


def event_row(event: ClickEvent) -> dict[str, Any]:
    row = {name: _storable(getattr(event, name)) for name in _COLUMNS}
    row["kind"] = str(event.kind)
    row["action"] = str(event.action)
    row["reasons"] = " ".join(event.reasons)  # reason codes never contain spaces
    row["recipient_key"] = str(row["recipient"]).lower()
    row["destination_key"] = str(row["destination"])[:DESTINATION_KEY_CHARS]
    return row


def _storable(value: object) -> object:
    # PostgreSQL text cannot hold NUL: one odd header must not cost the whole batch.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _event(row: Any) -> ClickEvent:
    return ClickEvent(at=row.at, kind=ClickKind(row.kind), action=ClickAction(row.action),
                      token_id=row.token_id, message_id=row.message_id, recipient=row.recipient,
                      destination=row.destination, registrable_domain=row.registrable_domain,
                      verdict=row.verdict, score=row.score,
                      reasons=tuple(row.reasons.split()), client_ip=row.client_ip,
                      user_agent=row.user_agent)


def _aware(value: datetime) -> datetime:
    # Aggregates bypass the column type on SQLite (min/max of stored text): read them back.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (code-point
    order), or None when there is none (the prefix is all U+10FFFF)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            successor = last + 1
            if 0xD800 <= successor <= 0xDFFF:  # surrogates cannot be stored: skip the block
                successor = 0xE000
            return "".join(chars) + chr(successor)
    return None


def encode_cursor(at: datetime, row_id: int) -> str:
    raw = json.dumps([at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, row_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if not isinstance(row_id, int) or at.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError) as error:
        raise CursorError(f"invalid cursor {cursor[:40]!r}") from error
    return at, row_id


def query_filters(query: ClickQuery) -> list[ColumnElement[bool]]:
    c = click_events.c
    where: list[ColumnElement[bool]] = []
    if query.registrable_domain is not None:
        where.append(c.registrable_domain == query.registrable_domain.lower())
    if query.destination_prefix:
        # A range, not LIKE: an index on destination serves it, and '%' or '_' in the prefix
        # are plain characters (a LIKE pattern from user input would need escaping).
        # The indexed key narrows by the first DESTINATION_KEY_CHARS; the full column decides.
        key = query.destination_prefix[:DESTINATION_KEY_CHARS]
        for column, prefix in ((c.destination_key, key),
                               (c.destination, query.destination_prefix)):
            where.append(column >= prefix)
            upper = prefix_successor(prefix)
            if upper is not None:
                where.append(column < upper)
    if query.recipient is not None:
        where.append(c.recipient_key == query.recipient.lower())
    if query.verdict is not None:
        where.append(c.verdict == query.verdict)
    if query.kind is not None:
        where.append(c.kind == str(query.kind))
    if query.action is not None:
        where.append(c.action == str(query.action))
    if query.since is not None:
        where.append(c.at >= query.since)
    if query.until is not None:
        where.append(c.at < query.until)
    return where


def search_statement(query: ClickQuery, *, limit: int,
                     cursor: str | None = None) -> Select[Any]:
    """One page, newest first: ``limit + 1`` rows, the extra one telling whether more exist."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    c = click_events.c
    where = query_filters(query)
    if cursor is not None:
        at, row_id = decode_cursor(cursor)
        # Row-value comparison: (at, id) < (:at, :id) walks the (…, at, id) indexes
        # backwards from the cursor without OFFSET.
        where.append(tuple_(c.at, c.id) < tuple_(at, row_id))
    return (select(click_events).where(*where)
            .order_by(c.at.desc(), c.id.desc()).limit(limit + 1))


class SqlClickLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write_batch(self, events: Sequence[ClickEvent]) -> None:
        if not events:
            return
        if any(e.at.tzinfo is None for e in events):
            raise ValueError("click event with a naive datetime: pass timezone-aware UTC times")
        rows = [event_row(e) for e in events]
        with unavailable_as_store_error("click log"), write_tx(self._engine) as connection:
            connection.execute(click_events.insert(), rows)

    def search(self, query: ClickQuery, *, limit: int = 100,
               cursor: str | None = None) -> ClickPage:
        statement = search_statement(query, limit=limit, cursor=cursor)
        with unavailable_as_store_error("click log"), read_tx(self._engine) as connection:
            rows = connection.execute(statement).all()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None
        return ClickPage(tuple(_event(r) for r in rows), next_cursor)

    def tally(self, query: ClickQuery) -> list[ClickTally]:
        c = click_events.c
        statement = (select(c.recipient_key, c.kind, c.action, func.count(), func.min(c.at),
                            func.max(c.at))
                     .where(*query_filters(query))
                     .group_by(c.recipient_key, c.kind, c.action))
        with unavailable_as_store_error("click log"), read_tx(self._engine) as connection:
            rows = connection.execute(statement).all()
        return [ClickTally(recipient, ClickKind(kind), ClickAction(action), int(count),
                           _aware(first), _aware(last))
                for recipient, kind, action, count, first, last in rows]

    def prune(self, before: datetime, *, batch: int = 10_000) -> int:
        if before.tzinfo is None:
            raise ValueError("prune needs a timezone-aware UTC time")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        c = click_events.c
        total = 0
        while True:  # oldest first, through the (at, id) index, one short transaction each
            oldest = select(c.id).where(c.at < before).order_by(c.at, c.id).limit(batch)
            with unavailable_as_store_error("click log"), write_tx(self._engine) as connection:
                deleted = connection.execute(
                    delete(click_events).where(c.id.in_(oldest.scalar_subquery()))).rowcount
            total += deleted
            if deleted < batch:
                return total

    def ping(self) -> None:
        ping(self._engine, "click log")


__all__ = ["CursorError", "SqlClickLog"]
