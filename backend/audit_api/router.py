"""Routes of the audit API: bearer token with role ``auditor`` or ``admin``; nothing here changes anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from backend import audit
from backend.audit_api.schemas import AuditEntryRead, AuditPage, VerifyReportRead
from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(bearer("auditor", "admin"))]
AUTH = ("invalid-token", "forbidden")
INT64 = 2**63 - 1


@router.get("/log", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def read_log(
    _: Auditor,
    platform: PlatformDep,
    after_seq: Annotated[int, Query(ge=-INT64, le=INT64, description="the last seq already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audit entries after `after_seq`, oldest first: every administrative event, who, what, when."""
    rows = await audit.page(platform.db, after_seq, limit)
    return AuditPage(
        items=[AuditEntryRead.of(r) for r in rows],
        next_after_seq=rows[-1].event.seq if len(rows) == limit else None,
    )


@router.get("/verify", responses=problem_responses(*AUTH, signed=False))
async def verify_log(_: Auditor, platform: PlatformDep) -> VerifyReportRead:
    """Recompute the whole hash chain; `ok` is false, naming each entry, when anything disagrees."""
    return VerifyReportRead.model_validate((await audit.verify(platform.db)).as_json())
