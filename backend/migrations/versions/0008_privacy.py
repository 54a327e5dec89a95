"""Citizens' personal data: deletion by pseudonymisation (issue 5).

A deleted citizen keeps their row (the ledger's ``citizen:{id}:*`` accounts and the outcomes name
it), with ``deleted_at`` set and the mobile hash replaced by a tombstone (docs/privacy.md).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from backend.models.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("citizens", sa.Column("deleted_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("citizens", "deleted_at")  # SQLite 3.35+ drops a column in place
