"""ApiKeyStore and AuditLog contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from linkguard.adapters.sql import SqlApiKeyStore, SqlAuditLog
from linkguard.adapters.sql.apikeys import hash_secret, parse_scopes
from linkguard.adapters.sql.schema import api_keys
from linkguard.ports import ApiKeyStore, ApiScope, AuditEvent, AuditLog, EntryNotFoundError

# Factories of the implementations under contract (fixtures in conftest.py).
API_KEY_STORES = ["sqlite_api_key_store", "postgres_api_key_store"]
AUDIT_LOGS = ["sqlite_audit_log", "postgres_audit_log"]


@pytest.fixture(params=API_KEY_STORES)
def keys(request: pytest.FixtureRequest) -> ApiKeyStore:
    found: ApiKeyStore = request.getfixturevalue(request.param)
    return found


@pytest.fixture(params=AUDIT_LOGS)
def audit(request: pytest.FixtureRequest) -> AuditLog:
    found: AuditLog = request.getfixturevalue(request.param)
    return found


class TestApiKeyStoreContract:
    def test_create_and_verify(self, keys: ApiKeyStore) -> None:
        key, secret = keys.create("mail filter", [ApiScope.VERDICT], actor="cli:root")
        assert secret.startswith("lg_")
        assert len(secret) > 40
        assert key.prefix == secret[:8]
        verified = keys.verify(secret)
        assert verified is not None
        assert verified.id == key.id
        assert verified.scopes == frozenset({ApiScope.VERDICT})
        assert [k.name for k in keys.list()] == ["mail filter"]

    @pytest.mark.parametrize("wrong", ["", "lg_", "lg_nope", "not-a-key", "LG_x" * 20])
    def test_wrong_secrets(self, keys: ApiKeyStore, wrong: str) -> None:
        keys.create("k", [ApiScope.ADMIN_READ], actor="a")
        assert keys.verify(wrong) is None

    def test_secrets_differ_and_only_scopes_asked_for(self, keys: ApiKeyStore) -> None:
        one, s1 = keys.create("one", [ApiScope.ADMIN_READ, ApiScope.ADMIN_WRITE], actor="a")
        two, s2 = keys.create("two", [ApiScope.VERDICT], actor="a")
        assert s1 != s2
        assert one.scopes == {ApiScope.ADMIN_READ, ApiScope.ADMIN_WRITE}
        verified = keys.verify(s2)
        assert verified is not None
        assert (verified.id, verified.name, verified.scopes) == (two.id, "two", two.scopes)
        assert verified.last_used is not None  # verify records the use

    def test_revoke(self, keys: ApiKeyStore) -> None:
        key, secret = keys.create("k", [ApiScope.VERDICT], actor="a")
        revoked = keys.revoke(key.id, actor="admin:alice")
        assert revoked.revoked is not None
        assert keys.verify(secret) is None
        assert keys.revoke(key.id, actor="admin:bob").revoked == revoked.revoked
        with pytest.raises(EntryNotFoundError):
            keys.revoke(999, actor="a")

    @pytest.mark.parametrize(("name", "scopes", "message"), [
        ("", [ApiScope.VERDICT], "name"),
        ("k", [], "scope"),
    ])
    def test_bad_input(self, keys: ApiKeyStore, name: str, scopes: list[ApiScope],
                       message: str) -> None:
        with pytest.raises(ValueError, match=message):
            keys.create(name, scopes, actor="a")
        assert keys.list() == []


def test_parse_scopes() -> None:
    assert parse_scopes(["verdict", "admin:write"]) == {ApiScope.VERDICT, ApiScope.ADMIN_WRITE}
    with pytest.raises(ValueError, match=r"unknown scope 'admin'.*admin:read"):
        parse_scopes(["admin"])


def test_only_the_hash_is_stored(sql_engine: Engine) -> None:
    store = SqlApiKeyStore(sql_engine)
    _, secret = store.create("k", [ApiScope.VERDICT], actor="a")
    with sql_engine.connect() as connection:
        row = connection.execute(select(api_keys)).one()
    assert secret not in " ".join(str(v) for v in row)
    assert row.secret_hash == hash_secret(secret)


def test_last_used_is_written_at_most_once_a_minute(sql_engine: Engine) -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    store = SqlApiKeyStore(sql_engine, clock=lambda: now)
    _, secret = store.create("k", [ApiScope.VERDICT], actor="a")
    store.verify(secret)
    assert store.list()[0].last_used == now
    later = SqlApiKeyStore(sql_engine, clock=lambda: now + timedelta(seconds=30))
    later.verify(secret)
    assert store.list()[0].last_used == now
    much_later = SqlApiKeyStore(sql_engine, clock=lambda: now + timedelta(minutes=2))
    much_later.verify(secret)
    assert store.list()[0].last_used == now + timedelta(minutes=2)


def test_key_changes_are_audited(sql_engine: Engine) -> None:
    store = SqlApiKeyStore(sql_engine)
    key, secret = store.create("ops", [ApiScope.ADMIN_READ], actor="cli:root")
    store.revoke(key.id, actor="admin:alice")
    revoke, create = SqlAuditLog(sql_engine).recent(object_type="api_key")
    assert (create.action, create.actor, create.before) == ("apikey.create", "cli:root", None)
    assert create.after is not None
    assert create.after["scopes"] == ["admin:read"]
    assert (revoke.action, revoke.actor) == ("apikey.revoke", "admin:alice")
    assert revoke.before is not None
    assert revoke.after is not None
    assert revoke.before["revoked"] is None
    assert revoke.after["revoked"] is not None
    assert secret not in repr([create, revoke])


class TestAuditLogContract:
    def test_record_and_read_newest_first(self, audit: AuditLog) -> None:
        at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        for n in range(5):
            audit.record(AuditEvent(at=at + timedelta(seconds=n), actor=f"u{n}",
                                    action="click.confirm", object_type="click",
                                    object_id=f"tok{n}", before=None,
                                    after={"recipient": "alice@example.org", "n": n,
                                           "nested": {"ok": True}}))
        events = audit.recent(limit=3)
        assert [e.actor for e in events] == ["u4", "u3", "u2"]
        assert events[0].after == {"recipient": "alice@example.org", "n": 4,
                                   "nested": {"ok": True}}
        assert events[0].at == at + timedelta(seconds=4)
        older = audit.recent(limit=10, before_id=events[-1].id)
        assert [e.actor for e in older] == ["u1", "u0"]
        assert audit.recent(object_type="list_entry") == []

    def test_every_event_needs_an_actor(self, audit: AuditLog) -> None:
        with pytest.raises(ValueError, match="actor"):
            audit.record(AuditEvent(at=datetime.now(UTC), actor="", action="x",
                                    object_type="y"))
