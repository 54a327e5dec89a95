"""Admin routes of merchants, their staff and offers (role ``admin`` changes; auditors read),
with the stock burn-down and every merchant's statements."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.merchants import directory, offers
from backend.merchants.schemas import (
    MerchantCreate,
    MerchantRead,
    MerchantUpdate,
    OfferBurnDown,
    OfferCreate,
    OfferRead,
    OfferUpdate,
    StaffCreate,
    StaffRead,
    StaffToken,
)
from backend.openapi import problem_responses
from backend.redemption import statements
from backend.redemption.schemas import StatementRead

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
Reader = Annotated[Principal, Depends(bearer("admin", "auditor"))]
AUTH = ("invalid-token", "forbidden")
BODY = ("invalid-request", "malformed-json")
MerchantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$")]
StaffId = Annotated[str, Path(pattern=r"^s_[0-9a-f]{16}$")]
OfferId = Annotated[str, Path(pattern=r"^o_[0-9a-f]{16}$")]


@router.post(
    "/merchants", status_code=201, responses=problem_responses(*AUTH, *BODY, "merchant-exists", signed=False)
)
async def create_merchant(body: MerchantCreate, admin: Admin, platform: PlatformDep) -> MerchantRead:
    """Open a merchant that takes the points of citizens (its book names its statements)."""
    return await directory.create_merchant(platform.db, body.merchant_id, body.name, body.book, admin.sub)


@router.get("/merchants", responses=problem_responses(*AUTH, signed=False))
async def list_merchants(_: Reader, platform: PlatformDep) -> list[MerchantRead]:
    return await directory.list_merchants(platform.db)


@router.get("/merchants/{merchant_id}", responses=problem_responses(*AUTH, "unknown-merchant", signed=False))
async def get_merchant(merchant_id: MerchantId, _: Reader, platform: PlatformDep) -> MerchantRead:
    return await directory.get_merchant(platform.db, merchant_id)


@router.patch(
    "/merchants/{merchant_id}", responses=problem_responses(*AUTH, *BODY, "unknown-merchant", signed=False)
)
async def update_merchant(
    merchant_id: MerchantId, body: MerchantUpdate, admin: Admin, platform: PlatformDep
) -> MerchantRead:
    """Suspend a merchant (its staff can no longer redeem; its offers cannot be reserved) or resume it."""
    return await directory.set_status(platform.db, merchant_id, body.status, admin.sub)


@router.post(
    "/merchants/{merchant_id}/staff",
    status_code=201,
    responses=problem_responses(*AUTH, *BODY, "unknown-merchant", signed=False),
)
async def add_staff(
    merchant_id: MerchantId, body: StaffCreate, admin: Admin, platform: PlatformDep
) -> StaffToken:
    """A staff member of the merchant and their first token (a `merchant` token, shown once)."""
    return await directory.add_staff(platform, merchant_id, body.name, admin.sub)


@router.get(
    "/merchants/{merchant_id}/staff", responses=problem_responses(*AUTH, "unknown-merchant", signed=False)
)
async def list_staff(merchant_id: MerchantId, _: Reader, platform: PlatformDep) -> list[StaffRead]:
    await directory.get_merchant(platform.db, merchant_id)
    return await directory.list_staff(platform.db, merchant_id)


@router.post(
    "/merchants/{merchant_id}/staff/{staff_id}/tokens",
    status_code=201,
    responses=problem_responses(*AUTH, "not-found", "staff-disabled", signed=False),
)
async def staff_token(
    merchant_id: MerchantId, staff_id: StaffId, _: Admin, platform: PlatformDep
) -> StaffToken:
    """A fresh token for a staff member (e.g. a new shift's device)."""
    return await directory.mint_staff_token(platform, merchant_id, staff_id)


@router.delete(
    "/merchants/{merchant_id}/staff/{staff_id}", responses=problem_responses(*AUTH, "not-found", signed=False)
)
async def disable_staff(
    merchant_id: MerchantId, staff_id: StaffId, admin: Admin, platform: PlatformDep
) -> StaffRead:
    """Disable a staff member: their tokens stop working at once."""
    return await directory.disable_staff(platform.db, merchant_id, staff_id, admin.sub)


@router.get(
    "/merchants/{merchant_id}/statements/{day}",
    responses=problem_responses(*AUTH, "invalid-request", "unknown-merchant", signed=False),
)
async def merchant_statement(
    merchant_id: MerchantId, day: date, _: Reader, platform: PlatformDep
) -> StatementRead:
    """Any merchant's statement of a day, as its staff see it."""
    await directory.get_merchant(platform.db, merchant_id)  # unknown-merchant, not an empty statement
    return await statements.daily(platform.db, merchant_id, day)


@router.post(
    "/offers",
    status_code=201,
    responses=problem_responses(*AUTH, *BODY, "unknown-merchant", "invalid-offer", signed=False),
)
async def create_offer(body: OfferCreate, admin: Admin, platform: PlatformDep) -> OfferRead:
    """An offer of a merchant: price in points, stock, per-citizen limit, validity window, book."""
    return await offers.create_offer(platform.db, body, admin.sub)


@router.patch(
    "/offers/{offer_id}",
    responses=problem_responses(*AUTH, *BODY, "unknown-offer", "invalid-offer", signed=False),
)
async def update_offer(
    offer_id: OfferId, body: OfferUpdate, admin: Admin, platform: PlatformDep
) -> OfferRead:
    """Pause, resume or retire; add stock; move the end of the window; retitle."""
    return await offers.update_offer(platform.db, offer_id, body, admin.sub)


@router.get("/offers", responses=problem_responses(*AUTH, signed=False))
async def offer_burn_down(
    _: Reader, platform: PlatformDep, merchant_id: str | None = None
) -> list[OfferBurnDown]:
    """Every offer's stock burn-down: held, redeemed, reversed, left; the last 14 days; days of
    stock left at the last 7 days' rate; `low_stock` when it is about to run out."""
    return await offers.burn_down(platform.db, datetime.now(UTC), merchant_id)
