"""Routes of the admin API: bearer token with role ``admin``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from backend.admin_api import methodologies
from backend.admin_api import partners as service
from backend.admin_api.schemas import (
    KeyIssued,
    MethodologyRead,
    PartnerCreate,
    PartnerRead,
    WebhookSecret,
    WebhookSet,
)
from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.methodologies import MethodologyDocument
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
AUTH = ("invalid-token", "forbidden")


@router.get("/partners", responses=problem_responses(*AUTH, signed=False))
async def list_partners(_: Admin, platform: PlatformDep) -> list[PartnerRead]:
    """Every partner, its permissions and its keys (never a secret)."""
    return [PartnerRead.model_validate(p) for p in await service.list_partners(platform)]


@router.post(
    "/partners",
    status_code=201,
    responses=problem_responses(*AUTH, "invalid-request", "partner-exists", signed=False),
)
async def create_partner(body: PartnerCreate, admin: Admin, platform: PlatformDep) -> KeyIssued:
    """Create a partner with its first key; the secret is shown once."""
    issued = await service.create_partner(
        platform, body.partner_id, body.types, body.regions, body.name, actor=admin.sub
    )
    return KeyIssued(**issued.as_dict())


@router.post(
    "/partners/{partner_id}/keys",
    status_code=201,
    responses=problem_responses(*AUTH, "unknown-partner", "too-many-keys", signed=False),
)
async def rotate_key(partner_id: str, admin: Admin, platform: PlatformDep) -> KeyIssued:
    """Issue the next key; the old one keeps working until revoked (at most two active)."""
    return KeyIssued(**(await service.rotate_key(platform, partner_id, actor=admin.sub)).as_dict())


@router.delete(
    "/partners/{partner_id}/keys/{key_id}",
    status_code=204,
    responses=problem_responses(*AUTH, "unknown-partner", "unknown-key", signed=False),
)
async def revoke_key(partner_id: str, key_id: str, admin: Admin, platform: PlatformDep) -> Response:
    """Revoke a key: requests signed with it fail at once."""
    await service.revoke_key(platform, partner_id, key_id, actor=admin.sub)
    return Response(status_code=204)


@router.put(
    "/partners/{partner_id}/webhook", responses=problem_responses(*AUTH, "unknown-partner", signed=False)
)
async def set_webhook(partner_id: str, body: WebhookSet, admin: Admin, platform: PlatformDep) -> Any:
    """Set or clear (`url: null`) the partner's webhook; a new signing secret is shown once."""
    secret = await service.set_webhook(platform, partner_id, body.url, actor=admin.sub)
    return WebhookSecret(url=body.url, secret=secret)


@router.get("/methodologies", responses=problem_responses(*AUTH, signed=False))
async def list_methodologies(_: Admin, platform: PlatformDep) -> list[MethodologyRead]:
    """Every methodology version, bundled and published, oldest first."""
    entries = await methodologies.list_methodologies(platform)
    return [MethodologyRead(**methodologies.summary(e)) for e in entries]


@router.post(
    "/methodologies",
    status_code=201,
    responses=problem_responses(
        *AUTH, "invalid-request", "invalid-methodology", "methodology-exists", signed=False
    ),
)
async def publish_methodology(
    body: MethodologyDocument, admin: Admin, platform: PlatformDep
) -> MethodologyRead:
    """Publish a new methodology version (the JSON form of `versions/<version>.json`).

    It must start more than 10 minutes from now and after the latest version, under a new name, and
    price every key the latest prices. Versions are append-only: actions before its `effective_from`
    keep the version they were priced with, and a settled outcome never changes."""
    entry = await methodologies.publish_methodology(platform, body.as_json(), admin.sub)
    return MethodologyRead(**methodologies.summary(entry))
