"""What certification and the registry write: runs (with what they cover and their Merkle
chunks), the serial ranges they issue and every piece those are split into, registry accounts,
review decisions on flagged actions, and the Nan'ao pilot's targets.

A run's actions are not marked row by row (ten million updates would not fit a minute): a run
covers, per settlement partition, the outcomes whose ``seq`` lies in ``(from_seq, to_seq]`` of
its ``run_watermarks`` rows (plus the approved reviews that name it), filtered by book, period and
eligibility. Seqs only grow, under the partition's lease, so a later run of the same period starts
exactly where the earlier one stopped. See docs/certification.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.types import UtcDateTime


class CertificationBook(SQLModel, table=True):
    """Per book: the grams carried to its next run, and how many runs it has had (serial numbers)."""

    __tablename__ = "certification_books"

    book: str = Field(primary_key=True, max_length=16)
    carry_g: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    runs: int = Field(nullable=False)


class CertificationRun(SQLModel, table=True):
    """One certification run of a book over a period: what it covered and what it issued.

    ``status``: ``issued`` once committed (credits exist, the root is final), ``complete`` once the
    citizens' points have moved from pending to available (done in chunks after the commit)."""

    __tablename__ = "certification_runs"
    __table_args__ = (UniqueConstraint("book", "number"), Index("ix_runs_book_period", "book", "period"))

    run_id: str = Field(primary_key=True, max_length=48)
    book: str = Field(max_length=16)
    period: str = Field(max_length=7)  # YYYY-MM, Asia/Shanghai
    number: int  # the run's number within its book: {RUN:06} of its serials
    vintage: int
    status: str = Field(max_length=16)
    tree_size: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    root: str = Field(max_length=64)  # hex
    reduction_g: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    carry_in_g: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    carry_out_g: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    tonnes: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    actor: str = Field(max_length=80)
    started_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    issued_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]


class RunWatermark(SQLModel, table=True):
    """The seqs of one settlement partition a run covers: ``from_seq`` < seq <= ``to_seq``."""

    __tablename__ = "run_watermarks"
    __table_args__ = (Index("ix_watermarks_book_period", "book", "period", "partition"),)

    run_id: str = Field(primary_key=True, max_length=48)
    partition: int = Field(primary_key=True)
    book: str = Field(max_length=16)
    period: str = Field(max_length=7)
    from_seq: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    to_seq: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]


class RunChunk(SQLModel, table=True):
    """The subtree root of leaves ``chunk*CHUNK .. +size`` of a run, and the key of its first leaf:
    an inclusion proof reads one chunk of leaves, never the whole run."""

    __tablename__ = "run_chunks"

    run_id: str = Field(primary_key=True, max_length=48)
    chunk: int = Field(primary_key=True)
    first_partner_id: str = Field(max_length=32)
    first_event_id: str = Field(max_length=64)
    size: int
    root: str = Field(max_length=64)  # hex


class CreditRange(SQLModel, table=True):
    """A block of certified tonnes held by one registry account. Transfers and retirements split a
    block: the parent becomes ``split`` and its pieces carry on; ``retired`` is final."""

    __tablename__ = "credit_ranges"
    __table_args__ = (
        Index("ix_ranges_run", "run_id"),
        Index("ix_ranges_account", "account_id", "status"),
    )

    serial: str = Field(primary_key=True, max_length=48)
    run_id: str = Field(max_length=48)
    book: str = Field(max_length=16)
    vintage: int
    run_number: int
    first: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    last: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    account_id: str = Field(max_length=40)
    status: str = Field(max_length=16)  # active | retired | split
    parent: str | None = Field(default=None, max_length=48)
    beneficiary: str | None = Field(default=None, max_length=200)
    purpose: str | None = Field(default=None, max_length=200)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class RegistryAccount(SQLModel, table=True):
    """A holder of credits: a book's own account, the Nan'ao pilot, or a buyer."""

    __tablename__ = "registry_accounts"

    account_id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16)  # book | pilot | buyer
    name: str = Field(max_length=200)
    book: str | None = Field(default=None, max_length=16)  # book and pilot accounts hold one book only
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class Review(SQLModel, table=True):
    """A reviewer's decision on a flagged action. Approved: certified by the next run of its book and
    period (``run_id`` then names it). Rejected: its pending points are voided at once."""

    __tablename__ = "reviews"

    partner_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    decision: str = Field(max_length=16)  # approved | rejected
    reviewer: str = Field(max_length=80)
    note: str = Field(default="", max_length=500)
    book: str = Field(max_length=16)
    period: str = Field(max_length=7)
    decided_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    run_id: str | None = Field(default=None, max_length=48, index=True)


class PilotTarget(SQLModel, table=True):
    """The Nan'ao pilot's neutrality target for a year, in whole tonnes CO2e."""

    __tablename__ = "pilot_targets"

    book: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True)
    target_t: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    set_by: str = Field(max_length=80)
    set_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
