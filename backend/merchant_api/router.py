"""Routes of merchant staff: every answer is about the staff member's own merchant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from backend.merchant_api.deps import PlatformDep, StaffCaller, StaffToken
from backend.merchants.directory import get_merchant
from backend.merchants.offers import burn_down
from backend.merchants.schemas import MerchantRead, OfferBurnDown
from backend.openapi import problem_responses
from backend.redemption import statements
from backend.redemption.redeem import merchant_redemptions, redeem, reverse
from backend.redemption.schemas import RedeemRequest, RedemptionRead, StatementDay, StatementRead
from points_engine.certification import SHANGHAI

router = APIRouter(prefix="/v1/merchant", tags=["merchant"])
AUTH = ("invalid-token", "forbidden", "staff-disabled")
ReservationId = Annotated[str, Path(pattern=r"^r_[0-9a-f]{24}$")]
REDEEM = (
    "invalid-code", "unknown-code", "code-expired", "code-used", "foreign-code", "invalid-request",
    "malformed-json",
)  # fmt: skip


@router.get("/me", responses=problem_responses(*AUTH, signed=False))
async def me(staff: StaffCaller, platform: PlatformDep) -> MerchantRead:
    """The staff member's merchant and its balance of redeemed points."""
    return await get_merchant(platform.db, staff.merchant_id)


@router.get("/offers", responses=problem_responses(*AUTH, signed=False))
async def offers(staff: StaffCaller, platform: PlatformDep) -> list[OfferBurnDown]:
    """The merchant's offers with stock held, redeemed and left, and how long it lasts."""
    return await burn_down(platform.db, datetime.now(UTC), staff.merchant_id)


@router.post("/redemptions", responses=problem_responses(*AUTH, *REDEEM, signed=False))
async def redeem_code(body: RedeemRequest, staff: StaffToken, platform: PlatformDep) -> RedemptionRead:
    """Redeem a scanned `code` (the QR's content) or a typed `short_code`: the held points go to
    the merchant, the unit of stock is gone, the code is dead. Any refusal changes nothing."""
    return await redeem(platform, staff.sub, datetime.now(UTC), code=body.code, short=body.short_code)


@router.get("/redemptions", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def list_redemptions(
    staff: StaffCaller,
    platform: PlatformDep,
    day: Annotated[date | None, Query(description="an Asia/Shanghai day; default today")] = None,
) -> list[RedemptionRead]:
    """The redemptions made on one day, newest first."""
    start, end = statements.day_bounds(day or _today())
    return await merchant_redemptions(platform, staff.merchant_id, start, end)


@router.post(
    "/redemptions/{reservation_id}/reverse",
    responses=problem_responses(
        *AUTH, "unknown-reservation", "not-reversible", "reversal-window-closed", signed=False
    ),
)
async def reverse_redemption(
    reservation_id: ReservationId, staff: StaffCaller, platform: PlatformDep
) -> RedemptionRead:
    """Refund a redemption within the reversal window: the points go back to the citizen and the
    unit back into stock."""
    return await reverse(platform, staff, reservation_id, datetime.now(UTC))


@router.get("/statements", responses=problem_responses(*AUTH, "invalid-statement-range", signed=False))
async def statement_days(
    staff: StaffCaller,
    platform: PlatformDep,
    from_: Annotated[date | None, Query(alias="from", description="default: 29 days before `to`")] = None,
    to: Annotated[date | None, Query(description="default: today (Asia/Shanghai)")] = None,
) -> list[StatementDay]:
    """One summary per day: redeemed, reversed, net, closing balance, and whether it reconciles."""
    last = to or _today()
    return await statements.days(platform.db, staff.merchant_id, from_ or last - timedelta(days=29), last)


@router.get(
    "/statements/{day}.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}},
        **problem_responses(*AUTH, "invalid-request", signed=False),
    },
)
async def statement_csv(day: date, staff: StaffCaller, platform: PlatformDep) -> StreamingResponse:
    """The day's lines as CSV (the totals are in the JSON statement)."""
    s = await statements.daily(platform.db, staff.merchant_id, day)
    name = f"statement-{staff.merchant_id}-{day.isoformat()}.csv"
    return StreamingResponse(
        statements.csv_rows(s),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/statements/{day}", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def statement(day: date, staff: StaffCaller, platform: PlatformDep) -> StatementRead:
    """The day's statement: every redemption and reversal, opening and closing balance, reconciled
    with the ledger to the point."""
    return await statements.daily(platform.db, staff.merchant_id, day)


def _today() -> date:
    return datetime.now(SHANGHAI).date()
