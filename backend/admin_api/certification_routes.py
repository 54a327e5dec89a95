"""Admin routes of certification: start a run, read runs, review flagged actions (role ``admin``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.certification import reviews
from backend.certification.runs import RunRecord, certify, get_run
from backend.deps import PlatformDep
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
Reader = Annotated[Principal, Depends(bearer("admin", "auditor"))]  # auditors read everything
AUTH = ("invalid-token", "forbidden")


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    book: Literal["shantou", "nanao"]
    period: str = Field(description="a month in Asia/Shanghai, YYYY-MM", examples=["2026-11"])


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner_id: str = Field(pattern=r"^[a-z0-9_]{3,32}$")
    event_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    decision: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=500)


class ReviewRead(BaseModel):
    partner_id: str
    event_id: str
    decision: str
    book: str
    period: str
    points_voided: int


@router.post(
    "/certification/runs",
    status_code=201,
    responses=problem_responses(
        *AUTH, "invalid-request", "invalid-period", "period-not-begun", "nothing-to-certify", signed=False
    ),
)
async def start_run(body: RunRequest, admin: Admin, platform: PlatformDep) -> RunRecord:
    """Certify what settled in the book and period since its last run: issue whole tonnes as a serial
    range, carry the grams over, make the citizens' points available. Runs synchronously (about
    a minute for ten million actions); `nothing-to-certify` when nothing new settled."""
    return await certify(platform.db, body.book, body.period, actor=admin.sub)


@router.get("/certification/runs/{run_id}", responses=problem_responses(*AUTH, "unknown-run", signed=False))
async def read_run(run_id: str, _: Reader, platform: PlatformDep) -> RunRecord:
    """One run, with who started it and whether its points have moved."""
    return await get_run(platform.db, run_id)


@router.get("/reviews", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def awaiting_review(
    _: Reader,
    platform: PlatformDep,
    book: Literal["shantou", "nanao"] | None = None,
    after_partner_id: str | None = None,
    after_event_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[reviews.AwaitingReview]:
    """Flagged actions waiting for a decision (keyset pages: pass the last one's ids back)."""
    after = (after_partner_id, after_event_id) if after_partner_id and after_event_id else None
    return await reviews.awaiting(platform.db, book=book, limit=limit, after=after)


@router.post(
    "/reviews",
    status_code=201,
    responses=problem_responses(
        *AUTH, "invalid-request", "action-not-found", "not-reviewable", "already-reviewed", signed=False
    ),
)
async def decide(body: ReviewRequest, admin: Admin, platform: PlatformDep) -> ReviewRead:
    """Approve a flagged action (its book and period's next run certifies it) or reject it (its
    pending points are voided now). Final."""
    result = await reviews.decide(
        platform.db, body.partner_id, body.event_id, body.decision, reviewer=admin.sub, note=body.note
    )
    return ReviewRead.model_validate(result)
