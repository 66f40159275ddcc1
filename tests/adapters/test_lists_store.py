"""ListStore contract, file sync, export, concurrent writers, and propagation by polling."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine

from linkguard.adapters.redis_stores import RedisListNotifier, make_redis
from linkguard.adapters.sql import ListWatcher, SqlListStore, make_engine
from linkguard.adapters.sql.lists import entries_from_json, export_json
from linkguard.core.lists import Action, ListEntry, MatchKind, export_list_file, parse_list_file
from linkguard.ports import (
    AuditLog,
    DuplicateEntryError,
    EntryNotFoundError,
    ListSource,
    ListStore,
    StoreUnavailableError,
)
from tests.adapters.conftest import free_port

# Factories of the implementations under contract (fixtures in conftest.py): each list store
# with the audit log its changes are recorded in.
LIST_STORES = [("sqlite_list_store", "sqlite_audit_log"),
               ("postgres_list_store", "postgres_audit_log")]

ALLOW = """version: 1
allow:
  - domain: example.com
    reason: our own
    owner: it@example.org
  - host: login.example.net
    expires: 2027-01-31
  - domain: example.org
    subdomains: false
block:
  - url_prefix: https://files.example.com/shared/
    reason: phishing kit seen 2026-11
"""


def from_file(text: str = ALLOW, name: str = "lists/allow.yaml") -> list[ListEntry]:
    return parse_list_file(text, name)


def api_entry(value: str = "evil.example", action: Action = Action.BLOCK,
              reason: str = "") -> ListEntry:
    return ListEntry(action, MatchKind.DOMAIN, value, reason=reason, owner="soc@example.org")


@pytest.fixture(params=LIST_STORES, ids=[pair[0] for pair in LIST_STORES])
def backend(request: pytest.FixtureRequest) -> tuple[ListStore, AuditLog]:
    store_name, audit_name = request.param
    return request.getfixturevalue(store_name), request.getfixturevalue(audit_name)


@pytest.fixture
def store(backend: tuple[ListStore, AuditLog]) -> ListStore:
    return backend[0]


@pytest.fixture
def audit(backend: tuple[ListStore, AuditLog]) -> AuditLog:
    return backend[1]


def values(store: ListStore, origin: ListSource | None = None) -> set[tuple[str, str, str]]:
    return {(str(s.entry.action), str(s.entry.kind), s.entry.value)
            for s in store.entries(origin=origin)}


class TestListStoreContract:
    def test_starts_empty_at_version_zero(self, store: ListStore) -> None:
        assert store.entries() == []
        assert store.version() == 0
        store.ping()

    def test_add_get_update_delete(self, store: ListStore) -> None:
        added = store.add(api_entry(reason="kit"), actor="admin:alice")
        assert added.origin is ListSource.API
        assert added.entry.source == "api"
        assert store.get(added.id) == added
        assert store.version() == 1

        changed = store.update(added.id, api_entry(reason="kit, confirmed"), actor="admin:bob")
        assert changed.entry.reason == "kit, confirmed"
        assert changed.created == added.created
        assert store.get(added.id).entry.reason == "kit, confirmed"
        assert store.version() == 2

        removed = store.delete(added.id, actor="admin:alice")
        assert removed.entry.reason == "kit, confirmed"
        with pytest.raises(EntryNotFoundError):
            store.get(added.id)
        assert store.version() == 3

    def test_duplicates_are_conflicts(self, store: ListStore) -> None:
        first = store.add(api_entry(), actor="a")
        with pytest.raises(DuplicateEntryError):
            store.add(api_entry(reason="again"), actor="a")
        other = store.add(api_entry("other.example"), actor="a")
        with pytest.raises(DuplicateEntryError):
            store.update(other.id, api_entry(), actor="a")
        # Allow and block of the same value are different entries (block wins at click time).
        store.add(api_entry(action=Action.ALLOW), actor="a")
        assert store.get(first.id).entry.reason == ""
        assert store.version() == 3

    def test_unknown_ids(self, store: ListStore) -> None:
        with pytest.raises(EntryNotFoundError):
            store.get(999)
        with pytest.raises(EntryNotFoundError):
            store.update(999, api_entry(), actor="a")
        with pytest.raises(EntryNotFoundError):
            store.delete(999, actor="a")
        assert store.version() == 0

    def test_file_entries_change_only_through_files(self, store: ListStore) -> None:
        store.sync(from_file(), actor="files")
        entry = store.entries(origin=ListSource.FILE)[0]
        with pytest.raises(ValueError, match=r"lists/allow\.yaml:\d+.*lists sync"):
            store.update(entry.id, api_entry(), actor="a")
        with pytest.raises(ValueError, match="lists sync"):
            store.delete(entry.id, actor="a")

    def test_sync_adds_then_is_idempotent(self, store: ListStore) -> None:
        first = store.sync(from_file(), actor="files")
        assert (first.added, first.updated, first.removed, first.unchanged) == (4, 0, 0, 0)
        assert first.version == 1 == store.version()
        again = store.sync(from_file(), actor="files")
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 4)
        assert again.version == 1 == store.version()  # nothing changed: no reload anywhere
        stored = {s.entry.value: s.entry for s in store.entries()}
        assert stored["example.com"].reason == "our own"
        assert stored["example.com"].owner == "it@example.org"
        assert stored["example.com"].source == "lists/allow.yaml:3"
        assert stored["example.org"].kind is MatchKind.DOMAIN_ONLY
        assert stored["login.example.net"].expires == datetime(2027, 2, 1, tzinfo=UTC)
        assert set(stored.values()) == set(from_file())

    def test_sync_updates_and_removes(self, store: ListStore) -> None:
        store.sync(from_file(), actor="files")
        edited = ALLOW.replace("reason: our own", "reason: ours").replace(
            "  - domain: example.org\n    subdomains: false\n", "")
        result = store.sync(from_file(edited), actor="files")
        assert (result.added, result.updated, result.removed, result.unchanged) == (0, 1, 1, 2)
        assert "example.org" not in {s.entry.value for s in store.entries()}
        assert result.version == 2

    def test_a_line_shift_alone_is_not_a_change(self, store: ListStore,
                                               audit: AuditLog) -> None:
        store.sync(from_file(), actor="files")
        audited = len(audit.recent(limit=1000))
        shifted = ALLOW.replace("version: 1\n", "version: 1\n# a comment\n")
        result = store.sync(from_file(shifted), actor="files")
        assert (result.added, result.updated, result.removed, result.unchanged) == (0, 0, 0, 4)
        assert {s.entry.source for s in store.entries()} >= {"lists/allow.yaml:4"}
        assert len(audit.recent(limit=1000)) == audited

    def test_sync_keeps_api_entries_apart(self, store: ListStore) -> None:
        api = store.add(ListEntry(Action.ALLOW, MatchKind.DOMAIN, "example.com",
                                  reason="made in the UI"), actor="admin:alice")
        store.sync(from_file(), actor="files")  # the same value from a file: a second entry
        assert len([s for s in store.entries() if s.entry.value == "example.com"]) == 2
        result = store.sync([], actor="files")  # every file entry removed
        assert result.removed == 4
        assert [s.id for s in store.entries()] == [api.id]

    def test_sync_needs_file_entries(self, store: ListStore) -> None:
        with pytest.raises(ValueError, match="source"):
            store.sync([api_entry()], actor="files")
        assert store.entries() == []

    def test_first_duplicate_in_files_wins(self, store: ListStore) -> None:
        twice = from_file() + from_file(ALLOW.replace("our own", "copy"), "lists/b.yaml")
        result = store.sync(twice, actor="files")
        assert result.added == 4
        assert {s.entry.reason for s in store.entries() if s.entry.value == "example.com"} \
            == {"our own"}

    def test_import_adds_updates_and_replaces(self, store: ListStore) -> None:
        store.sync(from_file(), actor="files")
        first = store.import_entries([api_entry("a.example"), api_entry("b.example")],
                                     actor="admin:alice")
        assert (first.added, first.updated, first.removed) == (2, 0, 0)
        second = store.import_entries([api_entry("a.example", reason="why"),
                                       api_entry("c.example")], actor="admin:alice")
        assert (second.added, second.updated, second.removed, second.unchanged) == (1, 1, 0, 0)
        third = store.import_entries([api_entry("c.example")], actor="admin:alice",
                                     replace=True)
        assert (third.removed, third.unchanged) == (2, 1)
        assert values(store, ListSource.API) == {("block", "domain", "c.example")}
        assert len(store.entries(origin=ListSource.FILE)) == 4  # never touched by an import

    def test_every_change_is_audited(self, store: ListStore, audit: AuditLog) -> None:
        added = store.add(api_entry(), actor="admin:alice")
        store.update(added.id, api_entry(reason="r"), actor="admin:bob")
        store.delete(added.id, actor="admin:carol")
        store.sync(from_file(), actor="files")
        events = audit.recent(limit=100)
        assert [e.action for e in events[-3:]] == ["list.delete", "list.update", "list.add"]
        delete, update, add = events[-3:]
        assert (add.actor, add.before, add.after is not None) == ("admin:alice", None, True)
        assert update.before is not None
        assert update.after is not None
        assert (update.before["reason"], update.after["reason"]) == ("", "r")
        assert delete.actor == "admin:carol"
        assert delete.after is None
        assert delete.object_id == str(added.id)
        assert [e.action for e in events[:4]] == ["list.sync.add"] * 4


class TestConcurrentWriters:
    def test_two_writers_adding(self, store: ListStore) -> None:
        start = threading.Barrier(2)

        def writer(name: str) -> None:
            start.wait()
            for n in range(15):
                store.add(api_entry(f"{name}{n}.example"), actor=name)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(writer, ["a", "b"]))
        assert len(store.entries()) == 30
        assert store.version() == 30

    def test_two_syncs_of_the_same_files(self, store: ListStore) -> None:
        start = threading.Barrier(2)

        def sync(_: int) -> tuple[int, int]:
            start.wait()
            result = store.sync(from_file(), actor="files")
            return result.added, result.unchanged

        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(sync, range(2)))
        assert results == [(0, 4), (4, 0)]  # one did the work; the other saw it done
        assert len(store.entries()) == 4
        assert store.version() == 1

    def test_sync_and_api_writer_together(self, store: ListStore) -> None:
        start = threading.Barrier(2)

        def syncs() -> None:
            start.wait()
            for n in range(5):
                store.sync(from_file(ALLOW.replace("our own", f"v{n}")), actor="files")

        def adds() -> None:
            start.wait()
            for n in range(5):
                store.add(api_entry(f"x{n}.example"), actor="admin")

        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(syncs), pool.submit(adds)]:
                future.result()
        assert len(store.entries(origin=ListSource.FILE)) == 4
        assert len(store.entries(origin=ListSource.API)) == 5
        assert store.version() == 10


def test_export_yaml_reads_back_as_the_same_entries(sqlite_list_store: SqlListStore) -> None:
    sqlite_list_store.sync(from_file(), actor="files")
    sqlite_list_store.add(ListEntry(Action.BLOCK, MatchKind.HOST, "x.evil.example",
                                    reason="é: non-ASCII reason", owner="soc",
                                    expires=datetime(2027, 1, 1, 12, 30, tzinfo=UTC)),
                          actor="a")
    stored = sqlite_list_store.entries()
    text = export_list_file(s.entry for s in stored)
    back = parse_list_file(text, "export.yaml")
    key = lambda e: (e.action, e.kind, e.value, e.reason, e.owner, e.expires)  # noqa: E731
    assert sorted(map(key, back)) == sorted(key(s.entry) for s in stored)
    rows = export_json(stored)
    assert {r["origin"] for r in rows} == {"file", "api"}
    assert all({"id", "action", "kind", "value", "created", "expires"} <= set(r) for r in rows)


class TestListWatcher:
    def test_delivers_on_change_only(self, sqlite_list_store: SqlListStore) -> None:
        seen: list[list[ListEntry]] = []
        watcher = ListWatcher(sqlite_list_store, seen.append, poll_s=5)
        assert watcher.poll_once() is True  # first load, even of an empty list
        assert watcher.poll_once() is False
        sqlite_list_store.add(api_entry(), actor="a")
        assert watcher.poll_once() is True
        assert [e.value for e in seen[-1]] == ["evil.example"]
        assert len(seen) == 2
        assert watcher.version == 1

    def test_change_on_one_replica_reaches_another(self, pg_database: str,
                                                   pg_engine: Engine) -> None:
        other_engine = make_engine(pg_database)  # a second replica: its own engine and pool
        try:
            replica_a = SqlListStore(pg_engine)
            replica_b = SqlListStore(other_engine)
            arrived = threading.Event()
            seen: list[list[ListEntry]] = []

            def on_change(entries: list[ListEntry]) -> None:
                seen.append(entries)
                if entries:
                    arrived.set()

            watcher = ListWatcher(replica_b, on_change, poll_s=0.05)
            watcher.start()
            try:
                assert seen == [[]]
                replica_a.add(api_entry(), actor="admin:alice")
                assert arrived.wait(5), "the change did not propagate"
                assert [e.value for e in seen[-1]] == ["evil.example"]
            finally:
                watcher.stop()
        finally:
            other_engine.dispose()

    def test_keeps_last_entries_while_the_store_is_down(self) -> None:
        class Flaky:
            def __init__(self) -> None:
                self.down = False

            def version(self) -> int:
                if self.down:
                    raise StoreUnavailableError("database unavailable")
                return 1

            def entries(self, *, origin: ListSource | None = None) -> list[object]:
                del origin
                return []

        store = Flaky()
        calls: list[object] = []
        watcher = ListWatcher(store, calls.append, poll_s=0.02)  # type: ignore[arg-type]
        watcher.start()
        try:
            store.down = True
            deadline = threading.Event()
            for _ in range(100):
                if watcher.health().degraded:
                    break
                deadline.wait(0.02)
            health = watcher.health()
            assert health.ok
            assert health.degraded
            assert "database unavailable" in health.detail
            store.down = False
            for _ in range(100):
                if not watcher.health().degraded:
                    break
                deadline.wait(0.02)
            assert not watcher.health().degraded
            assert len(calls) == 1  # the version never moved: loaded once
        finally:
            watcher.stop()

    def test_bad_interval(self, sqlite_list_store: SqlListStore) -> None:
        with pytest.raises(ValueError, match="positive"):
            ListWatcher(sqlite_list_store, print, poll_s=0)


class TestRedisNotifications:
    def test_a_published_change_wakes_the_other_replica(
            self, pg_database: str, pg_engine: Engine, redis_session_client: redis.Redis,
            redis_prefix: str) -> None:
        notifier = RedisListNotifier(redis_session_client, prefix=redis_prefix)
        writer = SqlListStore(pg_engine, on_commit=notifier.publish)
        other_engine = make_engine(pg_database)
        arrived = threading.Event()
        seen: list[list[ListEntry]] = []

        def on_change(entries: list[ListEntry]) -> None:
            seen.append(entries)
            if entries:
                arrived.set()

        # A poll interval far longer than the test: only the message can bring the change.
        watcher = ListWatcher(SqlListStore(other_engine), on_change, poll_s=600,
                              subscribe=notifier.subscribe)
        watcher.start()
        try:
            time.sleep(0.3)  # let the subscription reach Redis
            writer.add(api_entry(), actor="admin:alice")
            assert arrived.wait(5), "no reload after the published change"
            assert [e.value for e in seen[-1]] == ["evil.example"]
        finally:
            watcher.stop()
            other_engine.dispose()

    def test_publishing_without_redis_is_harmless(self, sqlite_engine: Engine) -> None:
        notifier = RedisListNotifier(make_redis(f"redis://127.0.0.1:{free_port()}/0",
                                                timeout_s=0.2), retry_s=0.1)
        store = SqlListStore(sqlite_engine, on_commit=notifier.publish)
        store.add(api_entry(), actor="a")  # no exception: polling remains the guarantee
        stop = notifier.subscribe(lambda: None)
        time.sleep(0.3)
        stop()
        assert store.version() == 1


class TestJsonBodies:
    def test_export_imports_back(self, sqlite_list_store: SqlListStore) -> None:
        sqlite_list_store.sync(from_file(), actor="files")
        rows = export_json(sqlite_list_store.entries())
        entries = entries_from_json(json.loads(json.dumps(rows)))
        assert {(e.action, e.kind, e.value, e.reason, e.owner, e.expires) for e in entries} == {
            (e.action, e.kind, e.value, e.reason, e.owner, e.expires) for e in from_file()}
        assert {e.source for e in entries} == {"api"}
        result = sqlite_list_store.import_entries(entries, actor="admin")
        assert result.added == 4

    def test_values_are_normalised_as_in_files(self) -> None:
        (entry,) = entries_from_json([{"action": "block", "kind": "domain",
                                       "value": "BÜCHER.de"}])
        assert entry.value == "xn--bcher-kva.de"

    @pytest.mark.parametrize(("body", "message"), [
        ({"action": "block"}, "expected a JSON list"),
        (["x"], r"\[0\]: expected an object"),
        ([{"action": "deny", "kind": "host", "value": "a.example"}],
         r"\[0\]\.action: must be allow or block"),
        ([{"action": "block", "kind": "regex", "value": "a.example"}], r"\[0\]\.kind: must be"),
        ([{"action": "block", "kind": "domain", "value": "co.uk"}],
         r"\[0\]\.value: domain 'co.uk' is not a registrable domain"),
        ([{"action": "block", "kind": "url_prefix", "value": "javascript:alert(1)"}],
         r"\[0\]\.value: url_prefix .* is not an http\(s\) URL"),
        ([{"action": "block", "kind": "host", "value": 7}], r"\[0\]\.value: expected a string"),
        ([{"action": "block", "kind": "host", "value": "a.example", "expires": "soon"}],
         r"\[0\]\.expires: expected an ISO date-time"),
        ([{"action": "block", "kind": "host", "value": "a.example", "colour": "red"}],
         r"\[0\]\.colour: unknown field"),
        ([{"action": "allow", "kind": "host", "value": "ok.example"},
          {"action": "block", "kind": "host", "value": ""}], r"\[1\]\.value: "),
    ])
    def test_bad_bodies_name_the_field(self, body: object, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            entries_from_json(body)
