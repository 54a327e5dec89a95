"""``tanhui_refuse(reason)``: a statement refuses, and its transaction rolls back, from inside SQL.

The redemption hot path sends its writes and the COMMIT together (one round trip), so that the
offer's and the merchant's rows are locked only while PostgreSQL works, never while the API's
event loop is busy. A condition found false inside that statement (no unit of stock left) must then
abort the transaction itself: the statement calls this function, which raises ``P0001`` with the
reason, and the COMMIT behind it becomes a rollback. PostgreSQL only (SQLite takes the general path).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION tanhui_refuse(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = reason;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION tanhui_refuse(text)")
