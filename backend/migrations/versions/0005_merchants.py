"""Merchants, staff, offers, reservations and redemptions (issue 5); an index of the ledger's
movements other than settles, by account and time (statements, expiry).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG = sa.BigInteger()
NOT_SETTLE = sa.text("kind <> 'settle'")


def upgrade() -> None:
    for side in ("credit", "debit"):
        op.create_index(
            f"ix_ledger_tx_{side}",
            "ledger_transactions",
            [side, "booked_at"],
            postgresql_where=NOT_SETTLE,
            sqlite_where=NOT_SETTLE,
        )
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "merchant_staff",
        sa.Column("staff_id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.merchant_id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_merchant_staff_merchant_id", "merchant_staff", ["merchant_id"])
    op.create_table(
        "offers",
        sa.Column("offer_id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.merchant_id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("price_points", BIG, nullable=False),
        sa.Column("stock_total", BIG, nullable=False),
        sa.Column("stock_left", BIG, nullable=False),
        sa.Column("per_citizen_limit", sa.Integer(), nullable=False),
        sa.Column("valid_from", UtcDateTime(), nullable=False),
        sa.Column("valid_until", UtcDateTime(), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_offers_merchant_id", "offers", ["merchant_id"])
    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(40), primary_key=True),
        sa.Column("offer_id", sa.String(40), sa.ForeignKey("offers.offer_id"), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("citizen_id", sa.String(40), nullable=False),
        sa.Column("points", BIG, nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("reserve_tx", sa.String(35), nullable=False),
        sa.Column("reserved_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_tx", sa.String(35), nullable=True),
        sa.Column("redeemed_at", UtcDateTime(), nullable=True),
        sa.Column("redeemed_by", sa.String(40), nullable=True),
        sa.Column("voided_at", UtcDateTime(), nullable=True),
        sa.Column("reverse_tx", sa.String(35), nullable=True),
        sa.Column("reversed_at", UtcDateTime(), nullable=True),
        sa.Column("reversed_by", sa.String(40), nullable=True),
    )
    for name, columns in (
        ("ix_reservations_citizen_offer", ["citizen_id", "offer_id", "status"]),
        ("ix_reservations_citizen_reserved", ["citizen_id", "reserved_at"]),
        ("ix_reservations_merchant_redeemed", ["merchant_id", "redeemed_at"]),
        ("ix_reservations_merchant_reversed", ["merchant_id", "reversed_at"]),
        ("ix_reservations_status_expires", ["status", "expires_at"]),
    ):
        op.create_index(name, "reservations", columns)


def downgrade() -> None:
    for table in ("reservations", "offers", "merchant_staff", "merchants"):
        op.drop_table(table)
    op.drop_index("ix_ledger_tx_debit", "ledger_transactions")
    op.drop_index("ix_ledger_tx_credit", "ledger_transactions")
