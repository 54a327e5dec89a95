"""SQL of campaigns on an open transaction (never commits): the tables, locking a campaign's row,
and a row read back as the engine's ``Campaign`` and ``Budget``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import CampaignGrant, CampaignRecord, CampaignWatermark
from backend.settings import Settings
from points_engine.campaigns import Budget, Campaign

CAMPAIGNS: Table = CampaignRecord.__table__  # type: ignore[assignment]
GRANTS: Table = CampaignGrant.__table__  # type: ignore[assignment]
WATERMARKS: Table = CampaignWatermark.__table__  # type: ignore[assignment]

# After a campaign's window, actions inside it may still be reported (up to max_action_age_s old)
# and settle: the campaign keeps granting until then, plus this much for a settlement backlog.
LATE_GRACE = timedelta(days=1)


def closes_at(ends_at: datetime, settings: Settings) -> datetime:
    """When a campaign stops looking for actions of its window: it ends then."""
    return ends_at + timedelta(seconds=settings.max_action_age_s) + LATE_GRACE


async def lock(conn: AsyncConnection, campaign_id: str, *, skip_locked: bool = False) -> Any:
    """The campaign's row, locked until the transaction ends; None if there is none (or, with
    ``skip_locked``, if another transaction holds it: PostgreSQL only)."""
    if conn.dialect.name == "sqlite":
        # SQLite has one writer: a first write takes the database's write lock (waiting for it), so
        # what we read next is not changed by another process before we commit.
        await conn.execute(
            update(CAMPAIGNS).where(CAMPAIGNS.c.campaign_id == campaign_id).values(status=CAMPAIGNS.c.status)
        )
    query = select(CAMPAIGNS).where(CAMPAIGNS.c.campaign_id == campaign_id)
    return (await conn.execute(query.with_for_update(skip_locked=skip_locked))).first()


def campaign_of(row: Any) -> Campaign:
    return Campaign.of(
        row.campaign_id,
        row.name,
        row.applies_to,
        row.regions,
        row.starts_at,
        row.ends_at,
        row.bonus_percent,
        int(row.fixed_points),
    )


def budget_of(row: Any) -> Budget:
    return Budget(int(row.budget_points), int(row.granted_points))
