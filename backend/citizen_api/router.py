"""Routes of the citizen API (role ``citizen``): every answer is about the token's own citizen."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from backend.citizen_api.deps import CitizenCaller, PlatformDep
from backend.citizen_api.schemas import BalancesRead, CitizenRead, CreditPage, FootprintRead, HistoryPage
from backend.citizens import credits, footprint, history, profile
from backend.openapi import problem_responses
from points_engine.actions import ActionType

router = APIRouter(prefix="/v1/citizen", tags=["citizen"])
AUTH = ("invalid-token", "forbidden")
PartnerId = Annotated[str, Path(pattern=r"^[a-z0-9_]{3,32}$")]
EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=100)]
After = Annotated[str | None, Query(max_length=400, description="the `next` of the previous page")]


@router.get("/me", responses=problem_responses(*AUTH, "not-found", signed=False))
async def me(citizen: CitizenCaller, platform: PlatformDep) -> CitizenRead:
    """The citizen and the partners they are bound to, with their consent to each."""
    return CitizenRead.model_validate(await profile.profile(platform.db, citizen.sub))


@router.get("/balances", responses=problem_responses(*AUTH, signed=False))
async def balances(citizen: CitizenCaller, platform: PlatformDep) -> BalancesRead:
    """Points: `pending` (settled, awaiting certification), `available` (certified), `held`; of the
    available, `expiring` within 30 days and the `next_expiry` (docs/expiry.md)."""
    months = platform.settings.points_validity_months
    return BalancesRead.model_validate(await profile.balances(platform.db, citizen.sub, months))


@router.get("/history", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def action_history(
    citizen: CitizenCaller,
    platform: PlatformDep,
    type: ActionType | None = None,
    month: Annotated[str | None, Query(description="Asia/Shanghai month, YYYY-MM")] = None,
    after: After = None,
    limit: Limit = 20,
) -> HistoryPage:
    """Settled actions, newest first, with their outcome and the certification run covering them."""
    page = await history.history(platform.db, citizen.sub, type=type, month=month, after=after, limit=limit)
    return HistoryPage.model_validate(page)


@router.get("/footprint", responses=problem_responses(*AUTH, signed=False))
async def reductions(citizen: CitizenCaller, platform: PlatformDep) -> FootprintRead:
    """Grams of CO2e reduced by credited and capped, unflagged actions: total, by type, by month,
    and everyday equivalents (docs/citizen-api.md names their sources)."""
    return FootprintRead.model_validate(await footprint.footprint(platform.db, citizen.sub))


@router.get("/credits", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def certified_credits(
    citizen: CitizenCaller, platform: PlatformDep, after: After = None, limit: Limit = 20
) -> CreditPage:
    """Certified actions, newest first, each with its run and the run's live serial ranges."""
    return CreditPage.model_validate(
        await credits.credits(platform.db, citizen.sub, after=after, limit=limit)
    )


@router.get(
    "/credits/{partner_id}/{event_id}/proof",
    responses=problem_responses(
        *AUTH, "invalid-request", "action-not-found", "action-not-certified", signed=False
    ),
)
async def credit_proof(
    partner_id: PartnerId, event_id: EventId, citizen: CitizenCaller, platform: PlatformDep
) -> dict[str, Any]:
    """The RFC 6962 inclusion proof of one of the citizen's own certified actions (docs/proofs.md)."""
    return await credits.own_proof(platform.db, citizen.sub, partner_id, event_id)
