"""Partners and keys, citizens and bindings, accepted actions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import JsonColumn, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("types", JsonColumn, nullable=False),
        sa.Column("regions", JsonColumn, nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("webhook_secret_enc", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "partner_keys",
        sa.Column("partner_id", sa.String(32), sa.ForeignKey("partners.partner_id"), primary_key=True),
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_enc", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "citizens",
        sa.Column("citizen_id", sa.String(40), primary_key=True),
        sa.Column("mobile_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "bindings",
        sa.Column("partner_id", sa.String(32), sa.ForeignKey("partners.partner_id"), primary_key=True),
        sa.Column("user", sa.String(64), primary_key=True),
        sa.Column("citizen_id", sa.String(40), sa.ForeignKey("citizens.citizen_id"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("consent_withdrawn_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_bindings_citizen_id", "bindings", ["citizen_id"])
    op.create_table(
        "actions",
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("citizen_id", sa.String(40), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("data", JsonColumn, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_actions_citizen_id", "actions", ["citizen_id"])
    op.create_index("ix_actions_received_at", "actions", ["received_at"])


def downgrade() -> None:
    for table in ("actions", "bindings", "citizens", "partner_keys", "partners"):
        op.drop_table(table)
