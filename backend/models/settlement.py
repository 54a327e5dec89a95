"""What settlement writes: one outcome per accepted action, the ledger journal and balances,
the partitions' leases, and the webhook outbox.

``outcomes`` and ``ledger_transactions`` grow with actions: keyed by (partner_id, event_id) and
tx_id, with ``settled_at``/``booked_at`` to partition them by time later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from backend.models.types import JsonColumn, UtcDateTime
from points_engine.regions import PILOT_BOOK

# The Nan'ao pilot's outcomes (its book): what the pilot's reports select by time. Written as a
# constant, so that the partial index below serves a query saying the same, whatever its plan.
NANAO_BOOK = text(f"book = '{PILOT_BOOK}'")


class SettledOutcome(SQLModel, table=True):
    """The decision on one accepted action, written once, never changed."""

    __tablename__ = "outcomes"
    # Only the pilot's outcomes by time: an index of (book, occurred_at) took every settled action
    # ~1.8 µs of PostgreSQL to maintain (100,000 outcomes: 0.67–0.75 s with it, 0.49–0.59 s with
    # this one), for the one report that reads it; Nan'ao holds ~3 % of the outcomes. Certification
    # reads outcomes by partition and sequence number (ix_outcomes_partition_seq, migration 0006).
    __table_args__ = (
        Index("ix_outcomes_citizen_occurred", "citizen_id", "occurred_at"),
        Index(
            "ix_outcomes_nanao_occurred", "occurred_at", postgresql_where=NANAO_BOOK, sqlite_where=NANAO_BOOK
        ),
    )

    partner_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    citizen_id: str = Field(max_length=40)
    type: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    status: str = Field(max_length=16)
    reduction_g: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    reasons: str = Field(max_length=400)  # reason codes, space-separated, in precedence order
    flagged: bool
    methodology: str = Field(max_length=64)
    book: str = Field(max_length=16)
    # Settlement order within the citizen's partition: what rebuilding the rules' state replays.
    partition: int
    seq: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    settled_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


NOT_SETTLE = text("kind <> 'settle'")


class LedgerTransaction(SQLModel, table=True):
    """One ledger transaction: ``amount`` points from ``debit`` to ``credit`` (its two postings)."""

    __tablename__ = "ledger_transactions"
    # An account's movements other than settling (spends, certifications, bonuses, expiries) by
    # time: what statements and expiry read. Settles are left out, so the hot path pays nothing.
    __table_args__ = (
        Index(
            "ix_ledger_tx_credit", "credit", "booked_at", postgresql_where=NOT_SETTLE, sqlite_where=NOT_SETTLE
        ),
        Index(
            "ix_ledger_tx_debit", "debit", "booked_at", postgresql_where=NOT_SETTLE, sqlite_where=NOT_SETTLE
        ),
    )

    tx_id: str = Field(primary_key=True, max_length=35)
    kind: str = Field(max_length=16)
    cause: str = Field(max_length=300)
    debit: str = Field(max_length=100)
    credit: str = Field(max_length=100)
    amount: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    booked_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class LedgerBalance(SQLModel, table=True):
    """A balance, in shards for the hot source accounts (``issuance:{book}`` is written by every
    settlement): the balance of an account is the sum of its shards, a constant number of rows."""

    __tablename__ = "ledger_balances"

    account: str = Field(primary_key=True, max_length=100)
    shard: int = Field(primary_key=True)
    balance: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]


class SettlementPartition(SQLModel, table=True):
    """The lease on one stream partition. ``epoch`` grows with every new owner and fences the
    writes of an owner that lost its lease; ``seq`` numbers the partition's outcomes."""

    __tablename__ = "settlement_partitions"

    partition: int = Field(primary_key=True)
    epoch: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    owner: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    seq: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]


class SettlementWorker(SQLModel, table=True):
    """A live settlement worker (heartbeat): partitions are shared among the live ones."""

    __tablename__ = "settlement_workers"

    worker_id: str = Field(primary_key=True, max_length=80)
    seen_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class SettlementCursor(SQLModel, table=True):
    """Named watermarks: ``sweep`` — every action received before ``at`` has an outcome."""

    __tablename__ = "settlement_cursors"

    name: str = Field(primary_key=True, max_length=32)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class WebhookDelivery(SQLModel, table=True):
    """The outbox of webhook deliveries, written in the transaction that settles the action."""

    __tablename__ = "webhook_deliveries"

    partner_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JsonColumn, nullable=False))
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)  # type: ignore[call-overload]
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class PublishedMethodology(SQLModel, table=True):
    """A methodology version published after the bundled ones (admin API, CLI); never changed."""

    __tablename__ = "methodology_versions"

    version: str = Field(primary_key=True, max_length=16)
    effective_from: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    document: dict[str, Any] = Field(sa_column=Column(JsonColumn, nullable=False))
    published_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    published_by: str = Field(max_length=64)
