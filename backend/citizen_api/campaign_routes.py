"""The citizen's campaign bonuses (role ``citizen``; docs/campaigns.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backend.campaigns import bonuses
from backend.campaigns.bonuses import BonusItem
from backend.citizen_api.deps import CitizenCaller, PlatformDep
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/citizen", tags=["citizen"])


class BonusPage(BaseModel):
    items: list[BonusItem]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


@router.get(
    "/bonuses", responses=problem_responses("invalid-token", "forbidden", "invalid-request", signed=False)
)
async def citizen_bonuses(
    citizen: CitizenCaller,
    platform: PlatformDep,
    after: Annotated[str | None, Query(max_length=400, description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BonusPage:
    """Bonus points campaigns granted the citizen, newest first: each names its campaign and the
    action that earned it. They are available at once (no certification: they claim no reduction)."""
    page = await bonuses.bonuses(platform.db, citizen.sub, after=after, limit=limit)
    return BonusPage(items=page.items, next=page.next)
