"""AccessRequestStore contract: in-process, SQLite and PostgreSQL, on real servers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from linkguard.adapters.memory import MemoryAccessRequests, MemoryAuditLog
from linkguard.adapters.sql import SqlAccessRequests, SqlAuditLog
from linkguard.ports import (
    AccessRequestStore,
    AccessStatus,
    AlreadyDecidedError,
    AuditLog,
    DuplicateEntryError,
    EntryNotFoundError,
    NewAccessRequest,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Parts:
    store: AccessRequestStore
    audit: AuditLog
    clock: list[datetime]
    # A second store on the same backend (another replica), for the races.
    other: Callable[[], AccessRequestStore]


def _clock(moments: list[datetime]) -> Callable[[], datetime]:
    return lambda: moments[0]


@pytest.fixture
def memory_parts() -> Parts:
    moments, audit = [T0], MemoryAuditLog()
    store = MemoryAccessRequests(audit=audit, clock=_clock(moments))
    return Parts(store, audit, moments, lambda: store)


def _sql_parts(engine: Engine) -> Parts:
    moments = [T0]
    return Parts(SqlAccessRequests(engine, clock=_clock(moments)), SqlAuditLog(engine), moments,
                 lambda: SqlAccessRequests(engine, clock=_clock(moments)))


@pytest.fixture
def sqlite_parts(sqlite_engine: Engine) -> Parts:
    return _sql_parts(sqlite_engine)


@pytest.fixture
def postgres_parts(pg_engine: Engine) -> Parts:
    return _sql_parts(pg_engine)


@pytest.fixture(params=["memory_parts", "sqlite_parts", "postgres_parts"])
def parts(request: pytest.FixtureRequest) -> Parts:
    found: Parts = request.getfixturevalue(request.param)
    return found


def new(token_id: str = "0123456789abcdef", requester: str = "Alice@Corp.test",  # noqa: S107
        **fields: object) -> NewAccessRequest:
    base = NewAccessRequest(
        token_id=token_id, requester=requester, method="oidc",
        justification="Supplier portal for the Q4 invoice run", recipient="alice@corp.test",
        message_id="<m1@corp.test>", destination="https://paypa1-portal.example/login",
        registrable_domain="paypa1-portal.example", reasons=("lookalike.homoglyph",),
        client_ip="192.0.2.0", user_agent="Mozilla/5.0")
    return replace(base, **fields)  # type: ignore[arg-type]


class TestAccessRequestContract:
    def test_request_then_approve(self, parts: Parts) -> None:
        store = parts.store
        assert store.for_link("0123456789abcdef") is None
        created = store.create(new())
        assert created.status is AccessStatus.PENDING
        assert created.created == T0
        assert created.request == new()  # every field kept as given
        assert store.get(created.id) == created
        assert store.for_link("0123456789abcdef") == created
        parts.clock[0] = T0 + timedelta(minutes=5)
        until = T0 + timedelta(days=7)
        approved = store.decide(created.id, approve=True, actor="api-key:ops",
                                note="vendor confirmed by phone", expires=until)
        assert (approved.status, approved.decided, approved.decided_by, approved.note,
                approved.expires) == (AccessStatus.APPROVED, T0 + timedelta(minutes=5),
                                      "api-key:ops", "vendor confirmed by phone", until)
        assert store.for_link("0123456789abcdef") == approved
        assert approved.lets_through(T0 + timedelta(days=6))
        assert not approved.lets_through(until)

    def test_audited_with_before_and_after(self, parts: Parts) -> None:
        created = parts.store.create(new())
        parts.store.decide(created.id, approve=False, actor="oidc:bob@corp.test",
                           note="known phishing kit")
        events = parts.audit.recent(object_type="access_request")
        assert [(e.action, e.actor, e.object_id) for e in events] == [
            ("access.deny", "oidc:bob@corp.test", str(created.id)),
            ("access.request", "oidc:Alice@Corp.test", str(created.id))]
        deny, request = events
        assert request.before is None
        assert request.after is not None
        assert request.after["justification"] == new().justification
        assert deny.before is not None
        assert deny.after is not None
        assert (deny.before["status"], deny.after["status"]) == ("pending", "denied")
        assert deny.after["note"] == "known phishing kit"

    def test_one_open_request_per_link(self, parts: Parts) -> None:
        store = parts.store
        first = store.create(new())
        with pytest.raises(DuplicateEntryError):  # pending
            store.create(new(justification="again"))
        store.create(new(token_id="fedcba9876543210"))  # noqa: S106 - a link id, another link
        store.decide(first.id, approve=True, actor="a", expires=T0 + timedelta(hours=1))
        with pytest.raises(DuplicateEntryError):  # approved and still running
            store.create(new())
        parts.clock[0] = T0 + timedelta(hours=2)  # the approval ran out: ask again
        again = store.create(new(justification="need it once more"))
        assert again.status is AccessStatus.PENDING
        assert store.for_link("0123456789abcdef") == again

    def test_a_denial_stands(self, parts: Parts) -> None:
        denied = parts.store.create(new())
        parts.store.decide(denied.id, approve=False, actor="a")
        parts.clock[0] = T0 + timedelta(days=30)
        with pytest.raises(DuplicateEntryError):
            parts.store.create(new())

    def test_decided_once(self, parts: Parts) -> None:
        store = parts.store
        created = store.create(new())
        store.decide(created.id, approve=False, actor="first")
        with pytest.raises(AlreadyDecidedError):
            store.decide(created.id, approve=True, actor="second",
                         expires=T0 + timedelta(days=1))
        assert store.get(created.id).decided_by == "first"
        assert len(parts.audit.recent(object_type="access_request")) == 2

    def test_unknown_and_bad_arguments(self, parts: Parts) -> None:
        with pytest.raises(EntryNotFoundError):
            parts.store.get(404)
        with pytest.raises(EntryNotFoundError):
            parts.store.decide(404, approve=False, actor="a")
        created = parts.store.create(new())
        with pytest.raises(ValueError, match="expiry"):
            parts.store.decide(created.id, approve=True, actor="a")
        assert parts.store.get(created.id).status is AccessStatus.PENDING

    def test_search_newest_first_with_filters_and_cursor(self, parts: Parts) -> None:
        store = parts.store
        made = [store.create(new(token_id=f"{i:016x}",
                                 requester="bob@corp.test" if i % 2 else "alice@corp.test"))
                for i in range(7)]
        store.decide(made[3].id, approve=False, actor="a")
        page = store.search(limit=3)
        assert [r.id for r in page.items] == [made[6].id, made[5].id, made[4].id]
        assert page.next_cursor is not None
        rest = store.search(limit=10, cursor=page.next_cursor)
        assert [r.id for r in rest.items] == [m.id for m in reversed(made[:4])]
        assert rest.next_cursor is None
        pending = store.search(status=AccessStatus.PENDING, limit=100).items
        assert made[3].id not in [r.id for r in pending]
        assert len(pending) == 6
        bobs = store.search(requester="BOB@corp.test ").items
        assert [r.id for r in bobs] == [made[5].id, made[3].id, made[1].id]

    @pytest.mark.parametrize("cursor", ["", "abc", "-1", "1" * 40, "1.5"])
    def test_bad_cursor(self, parts: Parts, cursor: str) -> None:
        with pytest.raises(ValueError, match="cursor"):
            parts.store.search(cursor=cursor)

    def test_two_admins_decide_at_once_one_wins(self, parts: Parts) -> None:
        created = parts.store.create(new())
        stores = [parts.other() for _ in range(6)]
        outcomes: list[str] = []
        barrier = threading.Barrier(len(stores))

        def decide(index: int, store: AccessRequestStore) -> None:
            barrier.wait()
            try:
                store.decide(created.id, approve=index % 2 == 0, actor=f"admin{index}",
                             expires=T0 + timedelta(days=1))
                outcomes.append("won")
            except AlreadyDecidedError:
                outcomes.append("late")

        threads = [threading.Thread(target=decide, args=(i, s)) for i, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["late"] * 5 + ["won"]
        decided = parts.store.get(created.id)
        assert len(parts.audit.recent(object_type="access_request")) == 2
        assert decided.status is (AccessStatus.APPROVED if int(decided.decided_by[5:]) % 2 == 0
                                  else AccessStatus.DENIED)

    def test_two_requests_at_once_one_is_kept(self, parts: Parts) -> None:
        stores = [parts.other() for _ in range(6)]
        outcomes: list[str] = []
        barrier = threading.Barrier(len(stores))

        def ask(store: AccessRequestStore) -> None:
            barrier.wait()
            try:
                store.create(new())
                outcomes.append("kept")
            except DuplicateEntryError:
                outcomes.append("refused")

        threads = [threading.Thread(target=ask, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["kept"] + ["refused"] * 5
        assert len(parts.store.search(status=AccessStatus.PENDING).items) == 1
