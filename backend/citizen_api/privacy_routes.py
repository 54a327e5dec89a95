"""The citizen's rights over their data: consent per partner, export, deletion (docs/privacy.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from backend.citizen_api.deps import CitizenCaller, PlatformDep
from backend.citizen_api.privacy_schemas import DeletionRead
from backend.citizen_api.router import AUTH, PartnerId
from backend.citizen_api.schemas import PartnerBindingRead
from backend.openapi import problem_responses
from backend.privacy import consents, deletion, export

router = APIRouter(prefix="/v1/citizen", tags=["citizen"])
LIVE = (*AUTH, "citizen-deleted")
CONSENT = problem_responses(*LIVE, "invalid-request", "not-found", signed=False)
DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {export.MEDIA_TYPE: {}}, "description": "the document, as an attachment"}
}


@router.post("/consents/{partner_id}/withdraw", responses=CONSENT)
async def withdraw_consent(
    partner_id: PartnerId, citizen: CitizenCaller, platform: PlatformDep
) -> PartnerBindingRead:
    """Stop the partner declaring actions for you: its new reports are refused (`consent-withdrawn`)
    and it can no longer sign you in. Idempotent; what was settled before stays."""
    return PartnerBindingRead.model_validate(await consents.withdraw(platform.db, citizen.sub, partner_id))


@router.post("/consents/{partner_id}/grant", responses=CONSENT)
async def grant_consent(
    partner_id: PartnerId, citizen: CitizenCaller, platform: PlatformDep
) -> PartnerBindingRead:
    """Let the partner declare actions for you again (from now on). Idempotent."""
    return PartnerBindingRead.model_validate(await consents.grant(platform.db, citizen.sub, partner_id))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={**problem_responses(*LIVE, "not-found", signed=False), **DOCUMENT},
)
async def export_data(citizen: CitizenCaller, platform: PlatformDep) -> StreamingResponse:
    """Everything Tanhui holds about you, as one JSON document (schema `tanhui.citizen-export/1`):
    profile, partner bindings and consents, balances, every outcome, ledger transaction, certified
    action and reservation."""
    file = await export.export(platform.db, citizen.sub)
    headers = {"content-disposition": file.disposition, "cache-control": "no-store"}
    return StreamingResponse(file.chunks, media_type=file.media_type, headers=headers)


@router.delete(
    "/me",
    responses=problem_responses(*LIVE, "invalid-request", "not-found", "open-reservations", signed=False),
)
async def delete_account(
    citizen: CitizenCaller,
    platform: PlatformDep,
    confirm: Annotated[str, Query(max_length=40, description="your citizen_id, repeated")],
) -> DeletionRead:
    """Delete your account: the hash of your mobile number and your partner user ids are erased,
    every consent is withdrawn, available points are forfeited; settled history stays, under a bare
    id. Refused while a reservation holds points. Your tokens stop working at once (`410
    citizen-deleted`); the same mobile may bind again, as a new citizen."""
    return DeletionRead.model_validate(await deletion.delete_citizen(platform, citizen.sub, confirm))
