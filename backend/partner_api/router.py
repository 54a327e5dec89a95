"""Routes of the partner API (contract v1). HTTP only: authenticate, one service call, answer."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Path, Response

from backend.openapi import SIGNED_ONLY, json_body, problem_responses
from backend.partner_api import service
from backend.partner_api.deps import PlatformDep, SignedPartner
from backend.partner_api.schemas import (
    ActionBatch,
    ActionBodyIn,
    BatchReceipt,
    BindingCreate,
    BindingRead,
    CitizenTokenCreate,
    CitizenTokenRead,
    OutcomeRead,
    QuoteRead,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/partner", tags=["partner"])
BODY = ("malformed-json", "invalid-request", "body-too-large")


@router.post(
    "/bindings",
    responses=problem_responses(*BODY, "binding-conflict"),
    openapi_extra=json_body(BindingCreate),
)
async def bind_user(signed: SignedPartner, platform: PlatformDep) -> BindingRead:
    """Bind the partner's user to a citizen by mobile number (kept only as a keyed hash). Idempotent."""
    return await service.bind_user(platform, signed)


@router.post(
    "/actions",
    status_code=202,
    response_model=BatchReceipt,
    responses=problem_responses(*BODY, "batch-too-large"),
    openapi_extra=json_body(ActionBatch),
)
async def report_actions(signed: SignedPartner, platform: PlatformDep) -> Response:
    """Report 1 to 1,000 actions. Every item gets its own result, in order: `accepted` (durable,
    settled exactly once), `duplicate` (a retry of an accepted item) or `rejected` with a problem
    (`invalid-action`, `unknown-type`, `unknown-region`, `forbidden-type`, `forbidden-region`,
    `occurred-at-out-of-window`, `unbound-user`, `consent-withdrawn`, `event-conflict`)."""
    # (backend.partner_api.fast_route answers it first, with the same calls; this route documents it.)
    return receipt_response(await service.report_actions(platform, signed))


def receipt_response(receipt: dict[str, Any]) -> Response:
    """202 with the batch's receipt."""
    # Rendered as built: our code builds the receipt, so validating it against BatchReceipt again
    # (and FastAPI's jsonable_encoder) would only cost time; the model still documents it in OpenAPI.
    return Response(orjson.dumps(receipt), status_code=202, media_type="application/json")


@router.get("/actions/{event_id}", responses=problem_responses("action-not-found"), openapi_extra=SIGNED_ONLY)
async def action_outcome(
    signed: SignedPartner, platform: PlatformDep, event_id: str = Path(max_length=64)
) -> OutcomeRead:
    """The outcome of an accepted action: `pending` until settled, then `credited`, `capped` or `rejected`."""
    return await service.action_outcome(platform, signed.partner_id, event_id)


@router.post(
    "/citizen-tokens",
    responses=problem_responses(*BODY, "unbound-user"),
    openapi_extra=json_body(CitizenTokenCreate),
)
async def issue_citizen_token(signed: SignedPartner, platform: PlatformDep) -> CitizenTokenRead:
    """A 15-minute JWT (role `citizen`) for the citizen endpoints, on the bound user's behalf."""
    return await service.issue_citizen_token(platform, signed)


@router.post(
    "/quote",
    responses=problem_responses(
        "malformed-json",
        "body-too-large",
        "invalid-action",
        "unknown-type",
        "unknown-region",
        "forbidden-type",
        "forbidden-region",
        "occurred-at-out-of-window",
    ),
    openapi_extra=json_body(ActionBodyIn),
)
async def quote(signed: SignedPartner, platform: PlatformDep) -> QuoteRead:
    """What one action (without `event_id` and `user`) would earn before caps. Books nothing."""
    return await service.quote(platform, signed)


@router.put("/webhook", responses=problem_responses(*BODY), openapi_extra=json_body(WebhookUpdate))
async def set_webhook(signed: SignedPartner, platform: PlatformDep) -> WebhookRead:
    """Register the URL that receives signed callbacks (`action.settled`, `points.expiring`);
    returns a new secret, shown once."""
    return await service.set_webhook(platform, signed)


@router.delete("/webhook", status_code=204, responses=problem_responses(), openapi_extra=SIGNED_ONLY)
async def delete_webhook(signed: SignedPartner, platform: PlatformDep) -> Response:
    """Stop webhook deliveries to this partner."""
    await service.delete_webhook(platform, signed)
    return Response(status_code=204)
