"""What campaigns write: the campaigns with their budgets, one row per bonus granted (every bonus
point traceable to its action), and per campaign and settlement partition the last outcome seen.

``outcomes`` gets an index on (partition, seq): the granter reads the outcomes settled since its
watermarks, and without the index each pass would read the whole window of every campaign.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Table
from sqlmodel import Field, SQLModel

from backend.models.settlement import SettledOutcome
from backend.models.types import JsonColumn, UtcDateTime

_OUTCOMES: Table = SettledOutcome.__table__  # type: ignore[assignment]
OUTCOMES_BY_SEQ = Index("ix_outcomes_partition_seq", _OUTCOMES.c.partition, _OUTCOMES.c.seq)


class CampaignRecord(SQLModel, table=True):
    """A campaign: its rule (points_engine.campaigns), window and budget.

    ``status``: ``active`` (granting), ``exhausted`` (nothing remains; funding resumes it while its
    window is open), ``ended`` (an admin stopped it, or its window closed: it grants nothing more).
    """

    __tablename__ = "campaigns"

    campaign_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    applies_to: list[str] = Field(sa_column=Column(JsonColumn, nullable=False))  # selectors, e.g. trip.bike
    regions: list[str] = Field(sa_column=Column(JsonColumn, nullable=False))  # empty: every region
    starts_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    ends_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    bonus_percent: int
    fixed_points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    budget_points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    granted_points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    status: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    created_by: str = Field(max_length=80)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]


class CampaignGrant(SQLModel, table=True):
    """The bonus one action earned from one campaign (its ledger transaction is ``bonus_tx`` of
    campaign, citizen and ``{partner_id}/{event_id}``)."""

    __tablename__ = "campaign_grants"
    __table_args__ = (
        Index("ix_campaign_grants_campaign_granted", "campaign_id", "granted_at"),
        Index("ix_campaign_grants_citizen_granted", "citizen_id", "granted_at"),
    )

    campaign_id: str = Field(primary_key=True, max_length=64)
    partner_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    citizen_id: str = Field(max_length=40)
    points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    granted_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class CampaignWatermark(SQLModel, table=True):
    """The campaign has looked at every outcome of ``partition`` up to ``seq``."""

    __tablename__ = "campaign_watermarks"

    campaign_id: str = Field(primary_key=True, max_length=64)
    partition: int = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
