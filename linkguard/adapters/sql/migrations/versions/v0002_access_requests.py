"""Access requests: out-of-band approval of blocked links.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from linkguard.adapters.sql.schema import UtcDateTime

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite rowid needs INTEGER
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requester", sa.Text, nullable=False),
        sa.Column("requester_key", sa.Text, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("registrable_domain", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("client_ip", sa.Text, nullable=False),
        sa.Column("user_agent", sa.Text, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("decided", UtcDateTime, nullable=True),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("expires", UtcDateTime, nullable=True),
    )
    op.create_index("ix_access_requests_token_id_id", "access_requests", ["token_id", "id"])
    op.create_index("ix_access_requests_status_id", "access_requests", ["status", "id"])
    op.create_index("uq_access_requests_pending_token", "access_requests", ["token_id"],
                    unique=True, sqlite_where=_PENDING, postgresql_where=_PENDING)


def downgrade() -> None:
    op.drop_table("access_requests")
