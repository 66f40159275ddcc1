"""Initial schema: list entries and version, API keys, click events, audit events, nonces.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from linkguard.adapters.sql.schema import CodepointText, UtcDateTime

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite rowid needs INTEGER


def upgrade() -> None:
    op.create_table(
        "list_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", CodepointText, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.Column("expires", UtcDateTime, nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.UniqueConstraint("source", "action", "kind", "value",
                            name="uq_list_entries_source_action_kind_value"),
    )
    version = op.create_table(
        "list_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed", UtcDateTime, nullable=False),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0, "changed": datetime.now(UTC)}])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_used", UtcDateTime, nullable=True),
        sa.Column("revoked", UtcDateTime, nullable=True),
        sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    )
    op.create_table(
        "click_events",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("token_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("recipient_key", sa.Text, nullable=False),
        sa.Column("destination", CodepointText, nullable=False),
        sa.Column("destination_key", CodepointText, nullable=False),
        sa.Column("registrable_domain", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("client_ip", sa.Text, nullable=False),
        sa.Column("user_agent", sa.Text, nullable=False),
    )
    op.create_index("ix_click_events_registrable_domain_at_id", "click_events",
                    ["registrable_domain", "at", "id"])
    op.create_index("ix_click_events_recipient_key_at_id", "click_events",
                    ["recipient_key", "at", "id"])
    op.create_index("ix_click_events_at_id", "click_events", ["at", "id"])
    op.create_index("ix_click_events_destination_key", "click_events", ["destination_key"])
    op.create_table(
        "audit_events",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Text, nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_object_type_object_id", "audit_events",
                    ["object_type", "object_id"])
    op.create_table(
        "nonces",
        sa.Column("nonce", sa.String(128), primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("expires", UtcDateTime, nullable=False),
    )
    op.create_index("ix_nonces_expires", "nonces", ["expires"])


def downgrade() -> None:
    for table in ("nonces", "audit_events", "click_events", "api_keys", "list_version",
                  "list_entries"):
        op.drop_table(table)
