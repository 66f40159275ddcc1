"""API keys, stored as SHA-256 hashes of their secrets.

A secret is ``lg_`` + 32 random bytes (256 bits, ``secrets.token_urlsafe``). A fast hash is
enough for a secret of that entropy: slow password hashes (bcrypt, Argon2) exist to make
guessing low-entropy human passwords expensive, and nobody can enumerate 2^256 keys. A plain
hash also lets ``verify`` find the key with one indexed lookup instead of trying every key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from linkguard.adapters.sql.audit import insert_audit
from linkguard.adapters.sql.engine import read_tx, write_tx
from linkguard.adapters.sql.errors import unavailable_as_store_error
from linkguard.adapters.sql.schema import api_keys, utcnow
from linkguard.ports import ApiKey, ApiScope, EntryNotFoundError

SECRET_PREFIX = "lg_"  # noqa: S105 - a marker that makes leaked keys greppable, not a secret
PREFIX_SHOWN = 8  # "lg_" + 5 characters: enough to tell keys apart, useless for guessing
# last_used is written at most this often per key: a busy API client must not turn every
# request into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(values: Iterable[str]) -> frozenset[ApiScope]:
    """Scopes from text; raises ValueError naming the allowed ones."""
    scopes: set[ApiScope] = set()
    for value in values:
        try:
            scopes.add(ApiScope(value))
        except ValueError:
            allowed = ", ".join(s.value for s in ApiScope)
            raise ValueError(f"unknown scope {value!r} (allowed: {allowed})") from None
    return frozenset(scopes)


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, prefix=row.prefix,
                  scopes=parse_scopes(row.scopes.split()), created=row.created,
                  last_used=row.last_used, revoked=row.revoked)


def _json(key: ApiKey) -> dict[str, Any]:
    return {"name": key.name, "prefix": key.prefix, "scopes": sorted(key.scopes),
            "revoked": key.revoked.isoformat() if key.revoked else None}


class SqlApiKeyStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, name: str, scopes: Iterable[ApiScope], *,
               actor: str) -> tuple[ApiKey, str]:
        scope_set = parse_scopes(scopes)
        if not name.strip():
            raise ValueError("an API key needs a name")
        if not scope_set:
            raise ValueError("an API key needs at least one scope")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        with unavailable_as_store_error("API keys"), write_tx(self._engine) as connection:
            key_id = connection.execute(api_keys.insert().values(
                name=name.strip(), prefix=secret[:PREFIX_SHOWN], secret_hash=hash_secret(secret),
                scopes=" ".join(sorted(scope_set)), created=now,
            ).returning(api_keys.c.id)).scalar_one()
            key = ApiKey(int(key_id), name.strip(), secret[:PREFIX_SHOWN], scope_set, now)
            insert_audit(connection, at=now, actor=actor, action="apikey.create",
                         object_type="api_key", object_id=str(key.id), after=_json(key))
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        if not secret.startswith(SECRET_PREFIX):
            return None
        digest = hash_secret(secret)
        now = self._clock()
        with unavailable_as_store_error("API keys"), read_tx(self._engine) as connection:
            row = connection.execute(
                select(api_keys).where(api_keys.c.secret_hash == digest)).first()
        if row is None or row.revoked is not None:
            return None
        key = _key(row)
        if key.last_used is None or now - key.last_used >= LAST_USED_RESOLUTION:
            with unavailable_as_store_error("API keys"), write_tx(self._engine) as connection:
                connection.execute(update(api_keys).where(api_keys.c.id == key.id)
                                   .values(last_used=now))
            key = ApiKey(key.id, key.name, key.prefix, key.scopes, key.created, now, None)
        return key

    def list(self) -> list[ApiKey]:
        with unavailable_as_store_error("API keys"), read_tx(self._engine) as connection:
            return [_key(row) for row in connection.execute(
                select(api_keys).order_by(api_keys.c.id))]

    def revoke(self, key_id: int, *, actor: str) -> ApiKey:
        now = self._clock()
        with unavailable_as_store_error("API keys"), write_tx(self._engine) as connection:
            row = connection.execute(
                select(api_keys).where(api_keys.c.id == key_id).with_for_update()).first()
            if row is None:
                raise EntryNotFoundError(f"no API key with id {key_id}")
            before = _key(row)
            if before.revoked is not None:
                return before
            connection.execute(update(api_keys).where(api_keys.c.id == key_id)
                               .values(revoked=now))
            after = ApiKey(before.id, before.name, before.prefix, before.scopes,
                           before.created, before.last_used, now)
            insert_audit(connection, at=now, actor=actor, action="apikey.revoke",
                         object_type="api_key", object_id=str(key_id), before=_json(before),
                         after=_json(after))
        return after
