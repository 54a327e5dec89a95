"""Routes of the audit API: bearer token with role ``auditor`` or ``admin``; nothing here changes anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from backend import audit
from backend import reconcile as reconciliation
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


@router.get(
    "/verify",
    responses=problem_responses(*AUTH, "invalid-request", signed=False),
    response_model_exclude_none=True,
)
async def verify_log(
    _: Auditor,
    platform: PlatformDep,
    reconcile: Annotated[
        bool,
        Query(
            description="recompute every run's Merkle tree and reconcile runs, serial ranges, the "
            "ledger and per-partner totals (`checks`, `findings`); false: the hash chain only"
        ),
    ] = True,
    strict: Annotated[
        bool, Query(description="with `reconcile`: an accepted action unsettled after an hour is a finding")
    ] = False,
) -> VerifyReportRead:
    """Recompute the whole hash chain and everything else the database claims (`reconcile=false`:
    the chain only); `ok` is false, naming each row, when anything disagrees."""
    report = (
        await reconciliation.reconcile(platform.db, strict=strict)
        if reconcile
        else await audit.verify(platform.db)
    )
    return VerifyReportRead.model_validate(report.as_json())
