"""Citizen routes of spending points: open offers, reservations, their codes and QR images."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from backend.citizen_api.deps import CitizenCaller, CitizenToken, PlatformDep
from backend.merchants.offers import open_offers
from backend.merchants.schemas import OfferRead
from backend.openapi import problem_responses
from backend.redemption import qr
from backend.redemption.reservations import cancel, citizen_reservation, citizen_reservations, reserve
from backend.redemption.schemas import (
    ReservationCreate,
    ReservationRead,
    ReservationStatus,
    ReservationWithCode,
)
from points_engine.redemption import CodeExpired, CodeUsed

router = APIRouter(prefix="/v1/citizen", tags=["citizen"])
AUTH = ("invalid-token", "forbidden")
ReservationId = Annotated[str, Path(pattern=r"^r_[0-9a-f]{24}$")]
RESERVE = (
    "unknown-offer", "offer-unavailable", "offer-out-of-window", "out-of-stock", "per-citizen-limit",
    "insufficient-points", "idempotency-conflict", "invalid-request", "malformed-json",
)  # fmt: skip


@router.get("/offers", responses=problem_responses(*AUTH, signed=False))
async def offers(_: CitizenCaller, platform: PlatformDep) -> list[OfferRead]:
    """Offers that may be reserved now: active, in their window, in stock; cheapest first."""
    return await open_offers(platform.db, datetime.now(UTC))


@router.post("/reservations", status_code=201, responses=problem_responses(*AUTH, *RESERVE, signed=False))
async def create_reservation(
    body: ReservationCreate,
    citizen: CitizenToken,
    platform: PlatformDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=128, description="a retry with the same key reserves once"),
    ] = None,
) -> ReservationWithCode:
    """Reserve one unit: its price moves from `available` to `held` and one unit of stock is held,
    until the code is redeemed, cancelled, or expires (`expires_at`; then both come back)."""
    made = await reserve(platform, citizen.sub, body.offer_id, datetime.now(UTC), idempotency_key)
    if made.replayed:
        response.status_code = 200
    return made.reservation


@router.get("/reservations", responses=problem_responses(*AUTH, "invalid-request", signed=False))
async def list_reservations(
    citizen: CitizenCaller,
    platform: PlatformDep,
    status: ReservationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[ReservationWithCode]:
    """The citizen's reservations, newest first; live ones carry their code."""
    return await citizen_reservations(platform, citizen.sub, datetime.now(UTC), status, limit)


@router.get(
    "/reservations/{reservation_id}", responses=problem_responses(*AUTH, "unknown-reservation", signed=False)
)
async def get_reservation(
    reservation_id: ReservationId, citizen: CitizenCaller, platform: PlatformDep
) -> ReservationWithCode:
    return await citizen_reservation(platform, citizen.sub, reservation_id, datetime.now(UTC))


@router.post(
    "/reservations/{reservation_id}/cancel",
    responses=problem_responses(*AUTH, "unknown-reservation", "not-cancellable", signed=False),
)
async def cancel_reservation(
    reservation_id: ReservationId, citizen: CitizenCaller, platform: PlatformDep
) -> ReservationRead:
    """Give the reservation up: the held points and the unit of stock come back at once."""
    return await cancel(platform, citizen.sub, reservation_id, datetime.now(UTC))


@router.get(
    "/reservations/{reservation_id}/qr.{kind}",
    responses={
        200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "the QR of the live code"},
        **problem_responses(
            *AUTH, "unknown-reservation", "code-used", "code-expired", "invalid-request", signed=False
        ),
    },
    response_class=Response,
)
async def qr_image(
    reservation_id: ReservationId,
    kind: Annotated[str, Path(pattern=r"^(png|svg)$")],
    citizen: CitizenCaller,
    platform: PlatformDep,
) -> Response:
    """The QR image of the live code, to show at the counter (never cached)."""
    held = await citizen_reservation(platform, citizen.sub, reservation_id, datetime.now(UTC))
    if held.code is None:
        if held.status == "reserved":
            raise CodeExpired("the code has expired; the points go back to available")
        raise CodeUsed(f"the reservation is {held.status}: it has no live code")
    image, media = (qr.png, "image/png") if kind == "png" else (qr.svg, "image/svg+xml")
    return Response(image(held.code.token), media_type=media, headers={"cache-control": "no-store"})
