"""Admin allow/block list entries in SQL, the version counter, and file synchronisation.

Every write transaction first locks the version row (``SELECT … FOR UPDATE`` on PostgreSQL;
``BEGIN IMMEDIATE`` already serialises writers on SQLite), so two admins or two syncs never
interleave: each sees the other's committed result. A transaction that changed something bumps
the version once; replicas poll that number (``ListWatcher``) and reload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from linkguard.adapters.sql.audit import insert_audit
from linkguard.adapters.sql.engine import read_tx, write_tx
from linkguard.adapters.sql.errors import ping, unavailable_as_store_error
from linkguard.adapters.sql.schema import list_entries, list_version, utcnow
from linkguard.core.lists import Action, ListEntry, MatchKind, normalise_match
from linkguard.ports import (
    DuplicateEntryError,
    EntryNotFoundError,
    ListSource,
    StoredEntry,
    SyncResult,
)

Key = tuple[str, str, str]  # (action, kind, value): an entry's identity within its origin
API_SOURCE = "api"


def entry_key(entry: ListEntry) -> Key:
    return (str(entry.action), str(entry.kind), entry.value)


def entry_json(entry: ListEntry, origin: ListSource) -> dict[str, Any]:
    """An entry as audit before/after JSON (and as the JSON export format)."""
    return {"action": str(entry.action), "kind": str(entry.kind), "value": entry.value,
            "reason": entry.reason, "owner": entry.owner,
            "expires": entry.expires.isoformat() if entry.expires else None,
            "origin": str(origin), "source": entry.source}


def _file_of(source_path: str) -> str:
    """``allow.yaml:12`` → ``allow.yaml``: a line shift alone is not a change of the entry."""
    path, colon, line = source_path.rpartition(":")
    return path if colon and line.isdigit() else source_path


def _stored(row: Any) -> StoredEntry:
    origin = ListSource(row.source)
    entry = ListEntry(Action(row.action), MatchKind(row.kind), row.value, reason=row.reason,
                      owner=row.owner, expires=row.expires,
                      source=row.source_path if origin is ListSource.FILE else API_SOURCE)
    return StoredEntry(row.id, entry, origin, row.created, row.updated)


@dataclass(slots=True)
class _Tally:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    written: bool = False  # any row written (a silent line-number update counts here)


class SqlListStore:
    """``on_commit(version)`` runs after each committed change (e.g. a Redis publish that wakes
    the other replicas' watchers at once); it must not raise, and polling stays the guarantee."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow,
                 on_commit: Callable[[int], None] | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._on_commit = on_commit

    def _committed(self, version: int) -> None:
        if self._on_commit is not None:
            self._on_commit(version)

    # --- reads ----------------------------------------------------------------------------

    def entries(self, *, origin: ListSource | None = None) -> list[StoredEntry]:
        statement = select(list_entries).order_by(list_entries.c.id)
        if origin is not None:
            statement = statement.where(list_entries.c.source == str(origin))
        with unavailable_as_store_error("list store"), read_tx(self._engine) as connection:
            return [_stored(row) for row in connection.execute(statement)]

    def get(self, entry_id: int) -> StoredEntry:
        with unavailable_as_store_error("list store"), read_tx(self._engine) as connection:
            return self._get(connection, entry_id)

    def version(self) -> int:
        with unavailable_as_store_error("list store"), read_tx(self._engine) as connection:
            return int(connection.execute(
                select(list_version.c.version).where(list_version.c.id == 1)).scalar_one())

    def ping(self) -> None:
        ping(self._engine, "list store")

    # --- single API entries ---------------------------------------------------------------

    def add(self, entry: ListEntry, *, actor: str) -> StoredEntry:
        now = self._clock()
        with unavailable_as_store_error("list store"), write_tx(self._engine) as connection:
            self._lock(connection)
            if self._find(connection, ListSource.API, entry_key(entry)) is not None:
                raise DuplicateEntryError(f"{entry.action} entry for {entry.describe()} exists")
            stored = self._insert(connection, entry, ListSource.API, now)
            insert_audit(connection, at=now, actor=actor, action="list.add",
                         object_type="list_entry", object_id=str(stored.id),
                         after=entry_json(stored.entry, ListSource.API))
            version = self._bump(connection, now)
        self._committed(version)
        return stored

    def update(self, entry_id: int, entry: ListEntry, *, actor: str) -> StoredEntry:
        now = self._clock()
        with unavailable_as_store_error("list store"), write_tx(self._engine) as connection:
            self._lock(connection)
            before = self._editable(connection, entry_id)
            other = self._find(connection, ListSource.API, entry_key(entry))
            if other is not None and other.id != entry_id:
                raise DuplicateEntryError(f"{entry.action} entry for {entry.describe()} exists "
                                          f"(id {other.id})")
            after = self._update(connection, before, entry, now)
            insert_audit(connection, at=now, actor=actor, action="list.update",
                         object_type="list_entry", object_id=str(entry_id),
                         before=entry_json(before.entry, before.origin),
                         after=entry_json(after.entry, after.origin))
            version = self._bump(connection, now)
        self._committed(version)
        return after

    def delete(self, entry_id: int, *, actor: str) -> StoredEntry:
        now = self._clock()
        with unavailable_as_store_error("list store"), write_tx(self._engine) as connection:
            self._lock(connection)
            before = self._editable(connection, entry_id)
            self._delete(connection, before, actor=actor, action="list.delete", now=now)
            version = self._bump(connection, now)
        self._committed(version)
        return before

    # --- bulk -----------------------------------------------------------------------------

    def import_entries(self, entries: Sequence[ListEntry], *, actor: str,
                       replace: bool = False) -> SyncResult:
        return self._reconcile(ListSource.API, entries, remove_missing=replace, actor=actor,
                               verb="import")

    def sync(self, entries_from_files: Sequence[ListEntry], *, actor: str) -> SyncResult:
        """Make the file-managed entries exactly ``entries_from_files``.

        The files are the truth for every file entry, whichever file it came from: an entry
        whose line was deleted (or whose file was) is removed. API entries are never touched.
        """
        for entry in entries_from_files:
            if not entry.source or entry.source == API_SOURCE:
                raise ValueError(f"sync needs entries read from files (source 'file:line'), "
                                 f"got {entry.describe()} with source {entry.source!r}")
        return self._reconcile(ListSource.FILE, entries_from_files, remove_missing=True,
                               actor=actor, verb="sync")

    def _reconcile(self, origin: ListSource, wanted: Sequence[ListEntry], *,
                   remove_missing: bool, actor: str, verb: str) -> SyncResult:
        desired: dict[Key, ListEntry] = {}
        for entry in wanted:
            desired.setdefault(entry_key(entry), entry)  # the first occurrence wins
        now = self._clock()
        tally = _Tally()
        with unavailable_as_store_error("list store"), write_tx(self._engine) as connection:
            version = self._lock(connection)
            existing = {entry_key(s.entry): s for s in self._all(connection, origin)}
            for key, given in desired.items():
                entry = given if origin is ListSource.FILE else ListEntry(
                    given.action, given.kind, given.value, given.reason, given.owner,
                    given.expires, API_SOURCE)
                current = existing.get(key)
                if current is None:
                    stored = self._insert(connection, entry, origin, now)
                    insert_audit(connection, at=now, actor=actor, action=f"list.{verb}.add",
                                 object_type="list_entry", object_id=str(stored.id),
                                 after=entry_json(entry, origin))
                    tally.added += 1
                    tally.written = True
                elif current.entry != entry:
                    self._update(connection, current, entry, now)
                    tally.written = True
                    if _same_but_line(current.entry, entry):
                        tally.unchanged += 1
                        continue
                    insert_audit(connection, at=now, actor=actor, action=f"list.{verb}.update",
                                 object_type="list_entry", object_id=str(current.id),
                                 before=entry_json(current.entry, origin),
                                 after=entry_json(entry, origin))
                    tally.updated += 1
                else:
                    tally.unchanged += 1
            if remove_missing:
                for key, current in existing.items():
                    if key not in desired:
                        self._delete(connection, current, actor=actor,
                                     action=f"list.{verb}.remove", now=now)
                        tally.removed += 1
                        tally.written = True
            if tally.written:
                version = self._bump(connection, now)
        if tally.written:
            self._committed(version)
        return SyncResult(tally.added, tally.updated, tally.removed, tally.unchanged, version)

    # --- statements -----------------------------------------------------------------------

    def _lock(self, connection: Connection) -> int:
        # FOR UPDATE is rendered on PostgreSQL and left out on SQLite (BEGIN IMMEDIATE).
        return int(connection.execute(
            select(list_version.c.version).where(list_version.c.id == 1)
            .with_for_update()).scalar_one())

    def _bump(self, connection: Connection, now: datetime) -> int:
        return int(connection.execute(
            update(list_version).where(list_version.c.id == 1)
            .values(version=list_version.c.version + 1, changed=now)
            .returning(list_version.c.version)).scalar_one())

    def _all(self, connection: Connection, origin: ListSource) -> list[StoredEntry]:
        return [_stored(row) for row in connection.execute(
            select(list_entries).where(list_entries.c.source == str(origin)))]

    def _get(self, connection: Connection, entry_id: int) -> StoredEntry:
        row = connection.execute(
            select(list_entries).where(list_entries.c.id == entry_id)).first()
        if row is None:
            raise EntryNotFoundError(f"no list entry with id {entry_id}")
        return _stored(row)

    def _editable(self, connection: Connection, entry_id: int) -> StoredEntry:
        stored = self._get(connection, entry_id)
        if stored.origin is ListSource.FILE:
            raise ValueError(f"entry {entry_id} comes from {stored.entry.source}: change the "
                             "file and run 'linkguard lists sync'")
        return stored

    def _find(self, connection: Connection, origin: ListSource,
              key: Key) -> StoredEntry | None:
        action, kind, value = key
        c = list_entries.c
        row = connection.execute(select(list_entries).where(
            c.source == str(origin), c.action == action, c.kind == kind,
            c.value == value)).first()
        return None if row is None else _stored(row)

    def _insert(self, connection: Connection, entry: ListEntry, origin: ListSource,
                now: datetime) -> StoredEntry:
        source = entry.source if origin is ListSource.FILE else API_SOURCE
        entry_id = connection.execute(list_entries.insert().values(
            action=str(entry.action), kind=str(entry.kind), value=entry.value,
            reason=entry.reason, owner=entry.owner, created=now, updated=now,
            expires=entry.expires, source=str(origin),
            source_path=source if origin is ListSource.FILE else "",
        ).returning(list_entries.c.id)).scalar_one()
        final = ListEntry(entry.action, entry.kind, entry.value, entry.reason, entry.owner,
                          entry.expires, source)
        return StoredEntry(int(entry_id), final, origin, now, now)

    def _update(self, connection: Connection, before: StoredEntry, entry: ListEntry,
                now: datetime) -> StoredEntry:
        source = entry.source if before.origin is ListSource.FILE else API_SOURCE
        connection.execute(update(list_entries).where(list_entries.c.id == before.id).values(
            action=str(entry.action), kind=str(entry.kind), value=entry.value,
            reason=entry.reason, owner=entry.owner, expires=entry.expires, updated=now,
            source_path=source if before.origin is ListSource.FILE else ""))
        final = ListEntry(entry.action, entry.kind, entry.value, entry.reason, entry.owner,
                          entry.expires, source)
        return StoredEntry(before.id, final, before.origin, before.created, now)

    def _delete(self, connection: Connection, before: StoredEntry, *, actor: str, action: str,
                now: datetime) -> None:
        connection.execute(delete(list_entries).where(list_entries.c.id == before.id))
        insert_audit(connection, at=now, actor=actor, action=action, object_type="list_entry",
                     object_id=str(before.id), before=entry_json(before.entry, before.origin))


def _same_but_line(old: ListEntry, new: ListEntry) -> bool:
    return (old.reason, old.owner, old.expires, _file_of(old.source)) == (
        new.reason, new.owner, new.expires, _file_of(new.source))


# --- export ---------------------------------------------------------------------------------


def export_json(entries: Sequence[StoredEntry]) -> list[dict[str, Any]]:
    return [{"id": s.id, **entry_json(s.entry, s.origin), "created": s.created.isoformat(),
             "updated": s.updated.isoformat()} for s in entries]


# --- import (JSON bodies) -------------------------------------------------------------------

_KINDS = {kind.value: kind for kind in MatchKind}
_JSON_KEYS = {"action", "kind", "value", "reason", "owner", "expires"}
_EXPORT_ONLY = {"id", "origin", "source", "created", "updated"}  # accepted and ignored


def entries_from_json(rows: object) -> list[ListEntry]:
    """List entries from a JSON body: a list of ``{"action", "kind", "value", "reason",
    "owner", "expires"}`` (what ``export_json`` writes, so an export imports back).

    Values are validated and normalised as in list files. Raises ValueError naming every bad
    field by its path (``[3].value: …``), so nothing is imported from a half-valid body.
    """
    if not isinstance(rows, list):
        raise ValueError("expected a JSON list of entries")
    problems: list[str] = []
    entries: list[ListEntry] = []
    for n, row in enumerate(rows):
        where = f"[{n}]"
        if not isinstance(row, dict):
            problems.append(f"{where}: expected an object")
            continue
        unknown = set(row) - _JSON_KEYS - _EXPORT_ONLY
        problems.extend(f"{where}.{key}: unknown field" for key in sorted(map(str, unknown)))
        entry = _json_entry(row, where, problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise ValueError("\n".join(problems))
    return entries


def _json_entry(row: dict[str, Any], where: str, problems: list[str]) -> ListEntry | None:
    texts: dict[str, str] = {}
    for key in ("action", "kind", "value", "reason", "owner"):
        value = row.get(key, "")
        if not isinstance(value, str):
            problems.append(f"{where}.{key}: expected a string")
            return None
        texts[key] = value
    if texts["action"] not in ("allow", "block"):
        problems.append(f"{where}.action: must be allow or block")
        return None
    kind = _KINDS.get(texts["kind"])
    if kind is None:
        problems.append(f"{where}.kind: must be one of {', '.join(_KINDS)}")
        return None
    try:
        # The same validation as list files: "domain_only" is a domain without subdomains.
        name = "domain" if kind is MatchKind.DOMAIN_ONLY else kind.value
        kind, value = normalise_match(name, texts["value"],
                                      subdomains=kind is not MatchKind.DOMAIN_ONLY)
    except ValueError as exc:
        problems.append(f"{where}.value: {exc}")
        return None
    expires = row.get("expires")
    if expires is not None:
        try:
            if not isinstance(expires, str):
                raise TypeError(expires)
            moment = datetime.fromisoformat(expires)
        except (TypeError, ValueError):
            problems.append(f"{where}.expires: expected an ISO date-time or null")
            return None
        expires = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return ListEntry(Action(texts["action"]), kind, value, reason=texts["reason"],
                     owner=texts["owner"], expires=expires, source=API_SOURCE)
