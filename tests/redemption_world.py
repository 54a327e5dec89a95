"""A merchant with staff and an offer, and citizens with available points: what redemption tests use.

Points are made available the way certification does it (a settle, then a ``certify-run``), booked
straight through the ledger so a test chooses exactly how many points a wallet holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.context import Platform
from backend.ledger_store import balances, post
from backend.merchants import directory, offers
from backend.merchants.schemas import OfferCreate, OfferRead
from backend.models import Offer
from points_engine.ledger import Account, certify_run_tx, settle_tx

OFFERS = Offer.__table__  # type: ignore[attr-defined]


async def fund(platform: Platform, citizen_id: str, points: int, key: str = "grant") -> None:
    """Give the citizen ``points`` available points (settled, then certified)."""
    now = datetime.now(UTC)
    async with platform.db.transaction() as tx:
        await post(
            tx.conn,
            [
                settle_tx("shantou", citizen_id, f"test/{citizen_id}/{key}", points),
                # named like a real run (run_{book}_…): expiry reads each arrival's book from it
                certify_run_tx(f"run_shantou_{key}", citizen_id, points),
            ],
            now,
        )


async def pending(platform: Platform, citizen_id: str, points: int, key: str = "unsettled") -> None:
    """Give the citizen ``points`` pending (settled, not yet certified) points."""
    async with platform.db.transaction() as tx:
        await post(
            tx.conn, [settle_tx("shantou", citizen_id, f"test/{citizen_id}/{key}", points)], datetime.now(UTC)
        )


async def balance(platform: Platform, account: Account) -> int:
    async with platform.db.read() as conn:
        return (await balances(conn, [account]))[str(account)]


async def stock_left(platform: Platform, offer_id: str) -> int:
    async with platform.db.read() as conn:
        return int(
            (
                await conn.execute(select(OFFERS.c.stock_left).where(OFFERS.c.offer_id == offer_id))
            ).scalar_one()
        )


def citizen_headers(platform: Platform, citizen_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {platform.tokens.mint(citizen_id, 'citizen', 900, int(time.time()))}"}


def admin_headers(platform: Platform, role: str = "admin") -> dict[str, str]:
    return {"authorization": f"Bearer {platform.tokens.mint('ops_li', role, 900, int(time.time()))}"}  # type: ignore[arg-type]


@dataclass
class Shop:
    merchant_id: str
    staff_id: str
    staff: dict[str, str]  # headers with the staff member's bearer token
    offer: OfferRead


async def open_shop(
    platform: Platform,
    merchant_id: str = "m_tea",
    *,
    price: int = 100,
    stock: int = 10,
    limit: int = 1,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Shop:
    now = datetime.now(UTC)
    try:
        await directory.create_merchant(platform.db, merchant_id, f"{merchant_id} shop", "shantou", "ops_li")
    except Exception as exc:  # a second offer at the same merchant
        if getattr(exc, "code", "") != "merchant-exists":
            raise
    staff = await directory.add_staff(platform, merchant_id, "Chen at the till", "ops_li")
    offer = await offers.create_offer(
        platform.db,
        OfferCreate(
            merchant_id=merchant_id,
            title="Dancong tea, 50 g",
            price_points=price,
            stock=stock,
            per_citizen_limit=limit,
            valid_from=valid_from or now - timedelta(days=1),
            valid_until=valid_until or now + timedelta(days=30),
        ),
        "ops_li",
    )
    headers = {"authorization": f"Bearer {staff.access_token}"}
    return Shop(merchant_id, staff.staff.staff_id, headers, offer)
