"""Tables, as SQLAlchemy Core metadata.

Core, not the ORM: every store returns frozen dataclasses of ``linkguard.ports`` /
``linkguard.core`` rather than live mapped objects, the click log inserts in bulk, and the
one-time operations are single statements (``DELETE … RETURNING``) that read best as what they
are. An ORM's unit of work and identity map would add state between those values and the SQL.

The migrations in ``migrations/versions`` create the same tables; ``tests`` compare the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)


def utcnow() -> datetime:
    """The stores' default clock (tests pass their own)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, whatever the backend keeps.

    PostgreSQL stores ``timestamptz``; SQLite has no time type and compares text, so values are
    written as naive UTC in one fixed format (ordering by text is then ordering by time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - SQLAlchemy's signature
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the driver's contract
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# URL prefixes are searched with a range (prefix <= x < successor); that equals "starts with"
# only under code-point order, so PostgreSQL compares these columns with the "C" collation.
# SQLite's default BINARY collation already is code-point order for UTF-8.
CodepointText = Text().with_variant(Text(collation="C"), "postgresql")

DESTINATION_KEY_CHARS = 512  # at most 2,048 bytes of UTF-8: always fits a B-tree entry

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
})

list_entries = Table(
    "list_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(8), nullable=False),  # allow | block
    Column("kind", String(16), nullable=False),  # domain | domain_only | host | url_prefix
    Column("value", CodepointText, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("owner", Text, nullable=False, default=""),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=True),
    Column("source", String(8), nullable=False),  # file | api
    Column("source_path", Text, nullable=False, default=""),  # "allow.yaml:12" for files
    # One entry per (source, action, kind, value): a file entry and an API entry for the same
    # value are kept apart, so syncing files never touches what was made through the API.
    UniqueConstraint("source", "action", "kind", "value"),
)

list_version = Table(
    "list_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("version", BigInteger, nullable=False),
    Column("changed", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("prefix", String(16), nullable=False),  # shown in listings to tell keys apart
    Column("secret_hash", String(64), nullable=False, unique=True),  # hex SHA-256
    Column("scopes", Text, nullable=False),  # space separated
    Column("created", UtcDateTime, nullable=False),
    Column("last_used", UtcDateTime, nullable=True),
    Column("revoked", UtcDateTime, nullable=True),
)

click_events = Table(
    "click_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(24), nullable=False),
    Column("token_id", Text, nullable=False, default=""),
    Column("message_id", Text, nullable=False, default=""),
    Column("recipient", Text, nullable=False, default=""),
    # Recipients are searched without regard to case (Alice@Example.org is alice@example.org
    # in practice): the lower-cased copy is what the index holds.
    Column("recipient_key", Text, nullable=False, default=""),
    Column("destination", CodepointText, nullable=False, default=""),
    # The first DESTINATION_KEY_CHARS of the destination, which the prefix index holds: a
    # PostgreSQL B-tree entry must stay under ~2,700 bytes, and destinations can be longer.
    Column("destination_key", CodepointText, nullable=False, default=""),
    Column("registrable_domain", Text, nullable=False, default=""),
    Column("verdict", String(8), nullable=False, default=""),
    Column("score", Float, nullable=False, default=0.0),
    Column("reasons", Text, nullable=False, default=""),  # space-separated reason codes
    Column("client_ip", Text, nullable=False, default=""),
    Column("user_agent", Text, nullable=False, default=""),
    # Retro-hunt: every search is "newest first" within one filter, keyset-paginated on
    # (at, id), so each index ends with (at, id) and serves both the filter and the order.
    Index(None, "registrable_domain", "at", "id"),
    Index(None, "recipient_key", "at", "id"),
    Index(None, "at", "id"),
    Index(None, "destination_key"),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(48), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", Text, nullable=False, default=""),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index(None, "at"),
    Index(None, "object_type", "object_id"),
)

nonces = Table(
    "nonces", metadata,
    Column("nonce", String(128), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Index(None, "expires"),
)

access_requests = Table(
    "access_requests", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("token_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied
    Column("requester", Text, nullable=False),  # the signed-in e-mail address
    Column("requester_key", Text, nullable=False),  # lower-cased, for search
    Column("method", String(16), nullable=False),  # oidc | mailcode
    Column("justification", Text, nullable=False),
    Column("recipient", Text, nullable=False, default=""),
    Column("message_id", Text, nullable=False, default=""),
    Column("destination", Text, nullable=False, default=""),
    Column("registrable_domain", Text, nullable=False, default=""),
    Column("verdict", String(8), nullable=False, default=""),
    Column("reasons", Text, nullable=False, default=""),  # space-separated reason codes
    Column("client_ip", Text, nullable=False, default=""),
    Column("user_agent", Text, nullable=False, default=""),
    Column("created", UtcDateTime, nullable=False),
    Column("decided", UtcDateTime, nullable=True),
    Column("decided_by", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("expires", UtcDateTime, nullable=True),
    # The click path asks "the newest request for this link".
    Index(None, "token_id", "id"),
    Index(None, "status", "id"),
    # At most one pending request per link, whatever two replicas do at the same moment.
    Index("uq_access_requests_pending_token", "token_id", unique=True,
          sqlite_where=text("status = 'pending'"),
          postgresql_where=text("status = 'pending'")),
)
