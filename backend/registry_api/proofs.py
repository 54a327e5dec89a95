"""The public inclusion proof of a certified action (docs/proofs.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from backend.certification.proofs import proof_for
from backend.deps import PlatformDep
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/registry", tags=["registry"])

PartnerId = Annotated[str, Path(pattern=r"^[a-z0-9_]{3,32}$")]
EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


@router.get(
    "/proofs/{partner_id}/{event_id}",
    responses=problem_responses("action-not-certified", "invalid-request", signed=False),
)
async def inclusion_proof(partner_id: PartnerId, event_id: EventId, platform: PlatformDep) -> dict[str, Any]:
    """The RFC 6962 inclusion proof of an action in the certification run that covers it: check it
    offline against the run's published root (`GET /v1/registry/runs/{run_id}`) with `tanhui-verify`."""
    return await proof_for(platform.db, partner_id, event_id)
