"""Admin routes of campaigns (docs/campaigns.md): role ``admin`` changes them, ``admin`` and
``auditor`` read them. The rules are in ``points_engine.campaigns`` and ``backend.campaigns``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.campaigns import admin
from backend.campaigns.burndown import CampaignDetail, CampaignRead, get_campaign, list_campaigns
from backend.deps import PlatformDep
from backend.openapi import problem_responses
from points_engine.campaigns import MAX_BUDGET_POINTS

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
Reader = Annotated[Principal, Depends(bearer("admin", "auditor"))]
AUTH = ("invalid-token", "forbidden")
CHANGE = (*AUTH, "invalid-request", "malformed-json")
CampaignId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Points = Annotated[int, Field(strict=True, ge=1, le=MAX_BUDGET_POINTS)]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: str | None = Field(
        default=None,
        description="1-64 of [A-Za-z0-9._-]; default: a new `cmp_…` id",
        examples=["car-free-day-2026"],
    )
    name: str = Field(examples=["Car-Free Day: double points on bus and metro"])
    applies_to: list[str] = Field(
        description="action types, optionally narrowed to one kind: `trip`, `trip.bike`, "
        "`waste_sorting.hazardous`, `clean_plate.lunch`",
        examples=[["trip.bus", "trip.metro"]],
    )
    regions: list[str] = Field(default_factory=list, description="division codes; empty: all of Shantou")
    starts_at: AwareDatetime = Field(description="the action's occurred_at is at or after this")
    ends_at: AwareDatetime = Field(description="… and before this")
    bonus_percent: int = Field(default=0, strict=True, description="of the action's points; 100 doubles them")
    fixed_points: int = Field(
        default=0, strict=True, description="per action, also on actions earning 0 points"
    )
    budget_points: Points


class CampaignFund(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: Points


@router.post(
    "/campaigns",
    status_code=201,
    responses=problem_responses(*CHANGE, "invalid-campaign", "campaign-exists", signed=False),
)
async def create_campaign(body: CampaignCreate, caller: Admin, platform: PlatformDep) -> CampaignDetail:
    """Create an active campaign: matching actions that settle get `bonus_percent` of their points plus
    `fixed_points`, from the budget, until it is spent."""
    return await admin.create_campaign(platform, **body.model_dump(), actor=caller.sub)


@router.get("/campaigns", responses=problem_responses(*AUTH, signed=False))
async def campaigns(_: Reader, platform: PlatformDep) -> list[CampaignRead]:
    """Every campaign, newest first, with budget, granted, remaining and `low_budget`."""
    return await list_campaigns(platform.db, datetime.now(UTC))


@router.get("/campaigns/{campaign_id}", responses=problem_responses(*AUTH, "unknown-campaign", signed=False))
async def campaign(campaign_id: CampaignId, _: Reader, platform: PlatformDep) -> CampaignDetail:
    """One campaign and its burn-down: points and actions granted per Asia/Shanghai day, the burn
    rate of the last 7 days, the date the budget runs out at that rate, and `low_budget`."""
    return await get_campaign(platform.db, campaign_id, datetime.now(UTC))


@router.post(
    "/campaigns/{campaign_id}/fund",
    responses=problem_responses(
        *CHANGE, "invalid-campaign", "unknown-campaign", "campaign-ended", signed=False
    ),
)
async def fund(
    campaign_id: CampaignId, body: CampaignFund, caller: Admin, platform: PlatformDep
) -> CampaignDetail:
    """Add points to the budget. An exhausted campaign whose window is open becomes active again and
    grants the actions that settled while it was dry; an ended campaign cannot be funded."""
    return await admin.fund_campaign(platform, campaign_id, body.points, actor=caller.sub)


@router.post(
    "/campaigns/{campaign_id}/end",
    responses=problem_responses(*AUTH, "invalid-request", "unknown-campaign", "campaign-ended", signed=False),
)
async def end(campaign_id: CampaignId, caller: Admin, platform: PlatformDep) -> CampaignDetail:
    """Stop the campaign now: it grants nothing more. What it granted stays granted."""
    return await admin.end_campaign(platform, campaign_id, actor=caller.sub)
