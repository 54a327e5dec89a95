"""Settlement: outcomes, ledger journal and balances, partition leases, webhook outbox,
published methodology versions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import JsonColumn, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("citizen_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reduction_g", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.String(400), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("methodology", sa.String(64), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_outcomes_citizen_occurred", "outcomes", ["citizen_id", "occurred_at"])
    op.create_index("ix_outcomes_book_occurred", "outcomes", ["book", "occurred_at"])
    op.create_table(
        "ledger_transactions",
        sa.Column("tx_id", sa.String(35), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(300), nullable=False),
        sa.Column("debit", sa.String(100), nullable=False),
        sa.Column("credit", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "ledger_balances",
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("shard", sa.Integer(), primary_key=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "settlement_partitions",
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(80), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "settlement_workers",
        sa.Column("worker_id", sa.String(80), primary_key=True),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "settlement_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("payload", JsonColumn, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"])
    op.create_table(
        "methodology_versions",
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("document", JsonColumn, nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "methodology_versions",
        "webhook_deliveries",
        "settlement_cursors",
        "settlement_workers",
        "settlement_partitions",
        "ledger_balances",
        "ledger_transactions",
        "outcomes",
    ):
        op.drop_table(table)
