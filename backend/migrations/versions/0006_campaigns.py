"""Campaigns: time-boxed bonus points funded from a budget (issue 5); an index of outcomes in
settlement order per partition, which the granter reads from its watermarks.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import JsonColumn, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG = sa.BigInteger()


def upgrade() -> None:
    op.create_index("ix_outcomes_partition_seq", "outcomes", ["partition", "seq"])
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("applies_to", JsonColumn, nullable=False),
        sa.Column("regions", JsonColumn, nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("bonus_percent", sa.Integer(), nullable=False),
        sa.Column("fixed_points", BIG, nullable=False),
        sa.Column("budget_points", BIG, nullable=False),
        sa.Column("granted_points", BIG, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "campaign_grants",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("citizen_id", sa.String(40), nullable=False),
        sa.Column("points", BIG, nullable=False),
        sa.Column("granted_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_campaign_grants_campaign_granted", "campaign_grants", ["campaign_id", "granted_at"])
    op.create_index("ix_campaign_grants_citizen_granted", "campaign_grants", ["citizen_id", "granted_at"])
    op.create_table(
        "campaign_watermarks",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("seq", BIG, nullable=False),
    )


def downgrade() -> None:
    for table in ("campaign_watermarks", "campaign_grants", "campaigns"):
        op.drop_table(table)
    op.drop_index("ix_outcomes_partition_seq", "outcomes")
