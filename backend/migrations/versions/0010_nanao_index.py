"""Outcomes by time only for the Nan'ao pilot's book: a partial index instead of (book, occurred_at).

Every settled action paid for the index of (book, occurred_at), ~1.8 µs of PostgreSQL each, and
only the pilot's reports read it, for the Nan'ao book (~3 % of the outcomes).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_NANAO = sa.text("book = 'nanao'")


def upgrade() -> None:
    op.drop_index("ix_outcomes_book_occurred", "outcomes")
    op.create_index(
        "ix_outcomes_nanao_occurred",
        "outcomes",
        ["occurred_at"],
        postgresql_where=_NANAO,
        sqlite_where=_NANAO,
    )


def downgrade() -> None:
    op.drop_index("ix_outcomes_nanao_occurred", "outcomes")
    op.create_index("ix_outcomes_book_occurred", "outcomes", ["book", "occurred_at"])
