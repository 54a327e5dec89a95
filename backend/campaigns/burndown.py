"""What admins read of campaigns: budget, granted, remaining, and the burn-down — points and actions
granted per Asia/Shanghai day, the recent burn rate, when the budget runs out at that rate, and
``low_budget`` so that a campaign does not run dry unnoticed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.campaigns.store import CAMPAIGNS, GRANTS, budget_of, campaign_of
from backend.db import Database
from backend.errors import UnknownCampaign
from points_engine.campaigns import burn_since, project
from points_engine.certification import SHANGHAI


@dataclass(frozen=True)
class CampaignRead:
    campaign_id: str
    name: str
    applies_to: list[str]
    regions: list[str]  # empty: every region
    starts_at: datetime
    ends_at: datetime
    bonus_percent: int
    fixed_points: int
    budget_points: int
    granted_points: int
    remaining_points: int
    status: str  # active | exhausted | ended
    low_budget: bool  # less than 10 % left, or running out before ends_at at the recent rate
    burn_per_day: int  # points granted per day over the last 7 days (or since the start)
    projected_exhaustion_date: date | None  # Asia/Shanghai; None: not being spent, or spent
    created_at: datetime
    created_by: str
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class BurnDay:
    day: date  # Asia/Shanghai
    points: int
    actions: int


@dataclass(frozen=True)
class CampaignDetail(CampaignRead):
    days: list[BurnDay]  # days with grants, oldest first


async def list_campaigns(db: Database, now: datetime) -> list[CampaignRead]:
    """Every campaign, newest first."""
    async with db.read() as conn:
        rows = (await conn.execute(select(CAMPAIGNS).order_by(CAMPAIGNS.c.created_at.desc()))).all()
        return [await _read(conn, row, now) for row in rows]


async def get_campaign(db: Database, campaign_id: str, now: datetime) -> CampaignDetail:
    """One campaign with its burn-down; UnknownCampaign if there is none."""
    async with db.read() as conn:
        row = (await conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.campaign_id == campaign_id))).first()
        if row is None:
            raise UnknownCampaign(f"no campaign {campaign_id!r}")
        summary = await _read(conn, row, now)
        days = await _days(conn, campaign_id)
    return CampaignDetail(**vars(summary), days=days)


async def _read(conn: AsyncConnection, row: Any, now: datetime) -> CampaignRead:
    campaign, budget = campaign_of(row), budget_of(row)
    recent = (
        await conn.execute(
            select(func.coalesce(func.sum(GRANTS.c.points), 0)).where(
                GRANTS.c.campaign_id == row.campaign_id, GRANTS.c.granted_at >= burn_since(campaign, now)
            )
        )
    ).scalar_one()
    outlook = project(campaign, budget, int(recent), now, ended=row.status == "ended")
    return CampaignRead(
        campaign_id=row.campaign_id,
        name=row.name,
        applies_to=list(row.applies_to),
        regions=list(row.regions),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        bonus_percent=row.bonus_percent,
        fixed_points=int(row.fixed_points),
        budget_points=budget.budget_points,
        granted_points=budget.granted_points,
        remaining_points=budget.remaining,
        status=row.status,
        low_budget=outlook.low_budget,
        burn_per_day=outlook.burn_per_day,
        projected_exhaustion_date=(
            None if outlook.exhausted_at is None else outlook.exhausted_at.astimezone(SHANGHAI).date()
        ),
        created_at=row.created_at,
        created_by=row.created_by,
        ended_at=row.ended_at,
    )


def _shanghai_day(conn: AsyncConnection) -> ColumnElement[str]:
    """The Asia/Shanghai date of ``granted_at`` as YYYY-MM-DD. SQLite stores UTC without a zone and
    knows no zones: Shanghai has been UTC+8 all year since 1991."""
    if conn.dialect.name == "postgresql":
        return literal_column("to_char(granted_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')")
    return literal_column("strftime('%Y-%m-%d', granted_at, '+8 hours')")


async def _days(conn: AsyncConnection, campaign_id: str) -> list[BurnDay]:
    day = _shanghai_day(conn).label("day")
    rows = await conn.execute(
        select(day, func.sum(GRANTS.c.points), func.count())
        .where(GRANTS.c.campaign_id == campaign_id)
        .group_by(day)
        .order_by(day)
    )
    return [BurnDay(date.fromisoformat(d), int(points), int(n)) for d, points, n in rows]
