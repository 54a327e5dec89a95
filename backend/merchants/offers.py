"""Offers: created and changed by administrators, browsed by citizens, watched for burn-down."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit
from backend.db import Database, Tx
from backend.errors import UnknownMerchant, UnknownOffer
from backend.merchants.directory import MERCHANTS
from backend.merchants.schemas import DayCount, OfferBurnDown, OfferCreate, OfferRead, OfferUpdate
from backend.models import Offer, Reservation
from points_engine.certification import SHANGHAI
from points_engine.redemption import InvalidOffer, check_terms

OFFERS: Table = Offer.__table__  # type: ignore[assignment]
RESERVATIONS: Table = Reservation.__table__  # type: ignore[assignment]
BURN_DAYS = 14
RATE_DAYS = 7


async def create_offer(db: Database, body: OfferCreate, actor: str) -> OfferRead:
    async def use_case(tx: Tx) -> OfferRead:
        merchant = (
            await tx.conn.execute(select(MERCHANTS.c.book).where(MERCHANTS.c.merchant_id == body.merchant_id))
        ).first()
        if merchant is None:
            raise UnknownMerchant(f"no merchant {body.merchant_id!r}")
        book = body.book or merchant.book
        check_terms(
            body.price_points, body.stock, body.per_citizen_limit, body.valid_from, body.valid_until, book
        )
        row: dict[str, Any] = {
            "offer_id": f"o_{secrets.token_hex(8)}",
            "merchant_id": body.merchant_id,
            "title": body.title,
            "description": body.description,
            "price_points": body.price_points,
            "stock_total": body.stock,
            "stock_left": body.stock,
            "per_citizen_limit": body.per_citizen_limit,
            "valid_from": body.valid_from.astimezone(UTC),
            "valid_until": body.valid_until.astimezone(UTC),
            "book": book,
            "status": "active",
            "created_at": tx.started_at,
        }
        await tx.conn.execute(OFFERS.insert().values(**row))
        details = {k: row[k] for k in ("merchant_id", "title", "price_points", "stock_total", "book")}
        await audit.record(tx, actor, "offer.created", f"offer:{row['offer_id']}", details)
        return OfferRead(**row)

    result: OfferRead = await db.run(use_case)
    return result


async def update_offer(db: Database, offer_id: str, body: OfferUpdate, actor: str) -> OfferRead:
    """Pause, resume or retire an offer, add stock, move its end, retitle it. Price, limit and book
    never change: reservations already made were made at those terms."""

    async def use_case(tx: Tx) -> OfferRead:
        row = (
            await tx.conn.execute(select(OFFERS).where(OFFERS.c.offer_id == offer_id).with_for_update())
        ).first()
        if row is None:
            raise UnknownOffer(f"no offer {offer_id!r}")
        if row.status == "retired":
            raise InvalidOffer("a retired offer does not change")
        values: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"add_stock"})
        # The terms as they will stand, checked before anything converts them: a naive end would
        # otherwise be read in the server's zone, and added stock past the cap overflow the column.
        check_terms(
            row.price_points,
            row.stock_total + (body.add_stock or 0),
            row.per_citizen_limit,
            row.valid_from,
            body.valid_until or row.valid_until,
            row.book,
        )
        if body.valid_until is not None:
            values["valid_until"] = body.valid_until.astimezone(UTC)
        if body.add_stock is not None:
            values["stock_total"] = OFFERS.c.stock_total + body.add_stock
            values["stock_left"] = OFFERS.c.stock_left + body.add_stock
        if values:
            await tx.conn.execute(update(OFFERS).where(OFFERS.c.offer_id == offer_id).values(**values))
            details = body.model_dump(mode="json", exclude_none=True)
            await audit.record(tx, actor, "offer.updated", f"offer:{offer_id}", details)
        fresh = (await tx.conn.execute(select(OFFERS).where(OFFERS.c.offer_id == offer_id))).one()
        return _offer(fresh)

    result: OfferRead = await db.run(use_case)
    return result


async def list_offers(db: Database, merchant_id: str | None = None) -> list[OfferRead]:
    query = select(OFFERS).order_by(OFFERS.c.created_at, OFFERS.c.offer_id)
    if merchant_id is not None:
        query = query.where(OFFERS.c.merchant_id == merchant_id)
    async with db.read() as conn:
        return [_offer(r) for r in await conn.execute(query)]


async def open_offers(db: Database, now: datetime) -> list[OfferRead]:
    """What a citizen may reserve now: active, in its window, in stock, at an active merchant."""
    query = (
        select(OFFERS)
        .join(MERCHANTS, MERCHANTS.c.merchant_id == OFFERS.c.merchant_id)
        .where(
            OFFERS.c.status == "active",
            MERCHANTS.c.status == "active",
            OFFERS.c.valid_from <= now,
            OFFERS.c.valid_until > now,
            OFFERS.c.stock_left > 0,
        )
        .order_by(OFFERS.c.price_points, OFFERS.c.offer_id)
    )
    async with db.read() as conn:
        return [_offer(r) for r in await conn.execute(query)]


async def get_offer(conn: AsyncConnection, offer_id: str) -> OfferRead:
    row = (await conn.execute(select(OFFERS).where(OFFERS.c.offer_id == offer_id))).first()
    if row is None:
        raise UnknownOffer(f"no offer {offer_id!r}")
    return _offer(row)


async def burn_down(db: Database, now: datetime, merchant_id: str | None = None) -> list[OfferBurnDown]:
    """Every offer (of a merchant) with what is held, redeemed and reversed, the last 14 days, and
    how long the stock lasts at the last 7 days' rate: what keeps rewards from running out unseen."""
    query = select(OFFERS).order_by(OFFERS.c.created_at, OFFERS.c.offer_id)
    if merchant_id is not None:
        query = query.where(OFFERS.c.merchant_id == merchant_id)
    async with db.read() as conn:
        rows = [_offer(r) for r in await conn.execute(query)]
        status = await _status_counts(conn, [o.offer_id for o in rows])
        since = _day_start(now) - timedelta(days=BURN_DAYS - 1)
        events = await _events_since(conn, [o.offer_id for o in rows], since)
    return [_burn(o, status.get(o.offer_id, {}), events.get(o.offer_id, []), now) for o in rows]


async def _status_counts(conn: AsyncConnection, offer_ids: list[str]) -> dict[str, dict[str, int]]:
    if not offer_ids:
        return {}
    r = RESERVATIONS.c
    rows = await conn.execute(
        select(r.offer_id, r.status, func.count())
        .where(r.offer_id.in_(offer_ids))
        .group_by(r.offer_id, r.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for offer_id, status, n in rows:
        counts.setdefault(offer_id, {})[status] = int(n)
    return counts


async def _events_since(
    conn: AsyncConnection, offer_ids: list[str], since: datetime
) -> dict[str, list[tuple[str, datetime, int]]]:
    """Per offer, (event, at, points) for reservations, redemptions and reversals since ``since``."""
    if not offer_ids:
        return {}
    r = RESERVATIONS.c
    rows = await conn.execute(
        select(r.offer_id, r.points, r.reserved_at, r.redeemed_at, r.reversed_at).where(
            r.offer_id.in_(offer_ids),
            (r.reserved_at >= since) | (r.redeemed_at >= since) | (r.reversed_at >= since),
        )
    )
    events: dict[str, list[tuple[str, datetime, int]]] = {}
    for offer_id, points, reserved_at, redeemed_at, reversed_at in rows:
        mine = events.setdefault(offer_id, [])
        for kind, at in (("reserved", reserved_at), ("redeemed", redeemed_at), ("reversed", reversed_at)):
            if at is not None and at >= since:
                mine.append((kind, at, points))
    return events


def _burn(
    offer: OfferRead, status: dict[str, int], events: list[tuple[str, datetime, int]], now: datetime
) -> OfferBurnDown:
    today = now.astimezone(SHANGHAI).date()
    days = {
        today - timedelta(days=n): {"reserved": 0, "redeemed": 0, "reversed": 0, "points": 0}
        for n in range(BURN_DAYS)
    }
    for kind, at, points in events:
        day = days.get(at.astimezone(SHANGHAI).date())
        if day is None:
            continue
        day[kind] += 1
        day["points"] += {"reserved": 0, "redeemed": points, "reversed": -points}[kind]
    series = [DayCount(day=d, **c) for d, c in sorted(days.items())]
    recent = sum(c.redeemed - c.reversed for c in series[-RATE_DAYS:])
    days_of_stock = round(offer.stock_left / (recent / RATE_DAYS), 1) if recent > 0 else None
    low = offer.stock_left * 10 < offer.stock_total or (days_of_stock is not None and days_of_stock < 3)
    return OfferBurnDown(
        **offer.model_dump(),
        held=status.get("reserved", 0),
        redeemed=status.get("redeemed", 0),
        reversed=status.get("reversed", 0),
        days=series,
        days_of_stock=days_of_stock,
        low_stock=low and offer.status == "active",
    )


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _offer(row: Row[Any]) -> OfferRead:
    return OfferRead.model_validate(row, from_attributes=True)
