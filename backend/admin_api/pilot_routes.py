"""Admin routes for the Nan'ao pilot's annual targets (docs/reports.md): set by role ``admin``, read
by ``admin`` and ``auditor`` (auditors read everything, and the targets are in the pilot report)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.openapi import problem_responses
from backend.reports import targets
from backend.reports.targets import MAX_TARGET_T, TargetRecord

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
Reader = Annotated[Principal, Depends(bearer("admin", "auditor"))]
AUTH = ("invalid-token", "forbidden")


class PilotTargetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Any on the way in, so that a float, string or boolean is refused as `invalid-target` by the one
    # check in backend.reports.targets rather than coerced here; documented as what it must be.
    target_t: Annotated[Any, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_TARGET_T})] = (
        Field(description="the year's target in whole tonnes CO2e")
    )


class PilotTargetRead(BaseModel):
    book: str = Field(description="always `nanao`")
    year: int = Field(description="calendar year, Asia/Shanghai")
    target_t: int = Field(description="whole tonnes CO2e")
    set_by: str = Field(description="the admin token's `sub` that set it last")
    set_at: datetime

    @classmethod
    def of(cls, record: TargetRecord) -> PilotTargetRead:
        return cls(
            book=record.book,
            year=record.year,
            target_t=record.target_t,
            set_by=record.set_by,
            set_at=record.set_at,
        )


@router.get("/pilot/targets", responses=problem_responses(*AUTH, signed=False))
async def list_pilot_targets(_: Reader, platform: PlatformDep) -> list[PilotTargetRead]:
    """The Nan'ao pilot's targets, by year."""
    return [PilotTargetRead.of(t) for t in await targets.list_targets(platform.db)]


@router.put(
    "/pilot/targets/{year}",
    responses=problem_responses(*AUTH, "invalid-request", "invalid-target", signed=False),
)
async def set_pilot_target(
    year: int, body: PilotTargetSet, admin: Admin, platform: PlatformDep
) -> PilotTargetRead:
    """Set or replace the pilot's neutrality target for `year` (2000-9998), in whole tonnes
    (1 to 100,000,000). Audited as `pilot.target-set` with the previous target; setting the same
    target again changes nothing and logs nothing."""
    return PilotTargetRead.of(await targets.set_target(platform.db, year, body.target_t, actor=admin.sub))
