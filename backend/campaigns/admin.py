"""Changing campaigns (admin API): create, fund, end. Each is one transaction under a lock on the
campaign's row (so a grant batch never sees half a change) and writes its audit record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backend import audit
from backend.campaigns.burndown import CampaignDetail, get_campaign
from backend.campaigns.grants import skip_settled
from backend.campaigns.store import CAMPAIGNS, budget_of, closes_at, lock
from backend.context import Platform
from backend.db import Tx
from backend.errors import CampaignEnded, CampaignExists, UnknownCampaign
from backend.ids import new_id
from backend.settlement.repository import dialect_insert
from points_engine.campaigns import Budget, Campaign

MARGIN = timedelta(hours=1)  # for the clocks of the API servers


async def create_campaign(
    platform: Platform,
    *,
    campaign_id: str | None,
    name: str,
    applies_to: list[str],
    regions: list[str],
    starts_at: datetime,
    ends_at: datetime,
    bonus_percent: int,
    fixed_points: int,
    budget_points: int,
    actor: str,
) -> CampaignDetail:
    """A new active campaign (id ``cmp_…`` unless one is chosen); InvalidCampaign names a broken rule."""
    campaign = Campaign.of(
        campaign_id or new_id("cmp"),
        name,
        applies_to,
        regions,
        starts_at,
        ends_at,
        bonus_percent,
        fixed_points,
    )
    budget = Budget(0).fund(budget_points)

    async def use_case(tx: Tx) -> datetime:
        inserted = await tx.conn.execute(
            dialect_insert(tx.conn, CAMPAIGNS)
            .values(
                {
                    "campaign_id": campaign.campaign_id,
                    "name": campaign.name,
                    "applies_to": [str(s) for s in campaign.applies_to],
                    "regions": list(campaign.regions),
                    "starts_at": campaign.starts_at,
                    "ends_at": campaign.ends_at,
                    "bonus_percent": campaign.bonus_percent,
                    "fixed_points": campaign.fixed_points,
                    "budget_points": budget.budget_points,
                    "granted_points": 0,
                    "status": "active",
                    "created_at": tx.started_at,
                    "created_by": actor,
                }
            )
            .on_conflict_do_nothing()
            .returning(CAMPAIGNS.c.campaign_id)
        )
        if inserted.first() is None:
            raise CampaignExists(f"a campaign {campaign.campaign_id!r} exists")
        if (
            campaign.starts_at
            > tx.started_at + timedelta(seconds=platform.settings.max_action_future_s) + MARGIN
        ):
            # Nothing settled so far can have happened in its window: intake refuses actions further
            # ahead than max_action_future_s. Its first pass need not read them.
            await skip_settled(tx, campaign.campaign_id)
        await audit.record(
            tx, actor, "campaign.created", _subject(campaign.campaign_id), _rule(campaign, budget)
        )
        return tx.started_at

    now: datetime = await platform.db.run(use_case)
    return await get_campaign(platform.db, campaign.campaign_id, now)


async def fund_campaign(
    platform: Platform, campaign_id: str, points: int, *, actor: str, now: datetime | None = None
) -> CampaignDetail:
    """Add ``points`` to the budget. An exhausted campaign whose window is still open is active again
    and resumes with the actions that settled while it was dry; an ended one cannot be funded."""

    async def use_case(tx: Tx) -> datetime:
        row = await _open(tx, campaign_id)
        if (now or tx.started_at) >= closes_at(row.ends_at, platform.settings):
            raise CampaignEnded(f"campaign {campaign_id!r} stopped granting at the close of its window")
        budget = budget_of(row).fund(points)
        await tx.conn.execute(
            CAMPAIGNS.update()
            .where(CAMPAIGNS.c.campaign_id == campaign_id)
            .values(budget_points=budget.budget_points, status="active")
        )
        details = {"points": points, "budget_points": budget.budget_points, "was": row.status}
        await audit.record(tx, actor, "campaign.funded", _subject(campaign_id), details)
        return tx.started_at

    now: datetime = await platform.db.run(use_case)
    return await get_campaign(platform.db, campaign_id, now)


async def end_campaign(platform: Platform, campaign_id: str, *, actor: str) -> CampaignDetail:
    """Stop the campaign now: it grants nothing more, whatever its budget and window."""

    async def use_case(tx: Tx) -> datetime:
        row = await _open(tx, campaign_id)
        await tx.conn.execute(
            CAMPAIGNS.update()
            .where(CAMPAIGNS.c.campaign_id == campaign_id)
            .values(status="ended", ended_at=tx.started_at)
        )
        details = {"was": row.status, "granted_points": int(row.granted_points)}
        await audit.record(tx, actor, "campaign.ended", _subject(campaign_id), details)
        return tx.started_at

    now: datetime = await platform.db.run(use_case)
    return await get_campaign(platform.db, campaign_id, now)


async def _open(tx: Tx, campaign_id: str) -> Any:
    """The campaign's row, locked; refused if there is none or it has ended."""
    row = await lock(tx.conn, campaign_id)
    if row is None:
        raise UnknownCampaign(f"no campaign {campaign_id!r}")
    if row.status == "ended":
        raise CampaignEnded(f"campaign {campaign_id!r} has ended")
    return row


def _subject(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def _rule(campaign: Campaign, budget: Budget) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "applies_to": [str(s) for s in campaign.applies_to],
        "regions": list(campaign.regions),
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "bonus_percent": campaign.bonus_percent,
        "fixed_points": campaign.fixed_points,
        "budget_points": budget.budget_points,
    }
