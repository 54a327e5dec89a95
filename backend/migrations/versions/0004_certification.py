"""Certification runs, credit ranges and the registry, reviews of flagged actions, pilot targets.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG = sa.BigInteger()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Leaves are ordered by (partner_id, event_id) in code-point order (docs/proofs.md): with
        # the key in COLLATE "C" the primary key index has that order, and a proof reads its chunk
        # of leaves as an index range instead of sorting the run.
        op.execute(
            'ALTER TABLE outcomes ALTER COLUMN partner_id TYPE varchar(32) COLLATE "C", '
            'ALTER COLUMN event_id TYPE varchar(64) COLLATE "C"'
        )
    op.create_table(
        "certification_books",
        sa.Column("book", sa.String(16), primary_key=True),
        sa.Column("carry_g", BIG, nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
    )
    op.create_table(
        "certification_runs",
        sa.Column("run_id", sa.String(48), primary_key=True),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tree_size", BIG, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("reduction_g", BIG, nullable=False),
        sa.Column("carry_in_g", BIG, nullable=False),
        sa.Column("carry_out_g", BIG, nullable=False),
        sa.Column("tonnes", BIG, nullable=False),
        sa.Column("points", BIG, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("book", "number"),
    )
    op.create_index("ix_runs_book_period", "certification_runs", ["book", "period"])
    op.create_table(
        "run_watermarks",
        sa.Column("run_id", sa.String(48), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("from_seq", BIG, nullable=False),
        sa.Column("to_seq", BIG, nullable=False),
    )
    op.create_index("ix_watermarks_book_period", "run_watermarks", ["book", "period", "partition"])
    op.create_table(
        "run_chunks",
        sa.Column("run_id", sa.String(48), primary_key=True),
        sa.Column("chunk", sa.Integer(), primary_key=True),
        sa.Column("first_partner_id", sa.String(32), nullable=False),
        sa.Column("first_event_id", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
    )
    op.create_table(
        "credit_ranges",
        sa.Column("serial", sa.String(48), primary_key=True),
        sa.Column("run_id", sa.String(48), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("first", BIG, nullable=False),
        sa.Column("last", BIG, nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(48), nullable=True),
        sa.Column("beneficiary", sa.String(200), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=True),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_ranges_run", "credit_ranges", ["run_id"])
    op.create_index("ix_ranges_account", "credit_ranges", ["account_id", "status"])
    op.create_table(
        "registry_accounts",
        sa.Column("account_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("book", sa.String(16), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("partner_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.Column("run_id", sa.String(48), nullable=True),
    )
    op.create_index("ix_reviews_run_id", "reviews", ["run_id"])
    op.create_table(
        "pilot_targets",
        sa.Column("book", sa.String(16), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("target_t", BIG, nullable=False),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", UtcDateTime(), nullable=False),
    )
    # The books' rows and the platform's own registry accounts are created on first use
    # (backend.certification.books), like the settlement partitions.


def downgrade() -> None:
    for table in (
        "pilot_targets",
        "reviews",
        "registry_accounts",
        "credit_ranges",
        "run_chunks",
        "run_watermarks",
        "certification_runs",
        "certification_books",
    ):
        op.drop_table(table)
