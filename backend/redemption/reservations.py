"""Reserving an offer (the first phase), and voiding reservations that were cancelled or expired.

Locks, always in this order, so that concurrent use cases wait instead of deadlocking: the
citizen's available balance row (one citizen's spending is serialised; this is what makes 500
concurrent spends on one wallet safe), then the reservation, then the balances the ledger posts
to (in account order, ``add_balances``), and the offer's row last: every reservation of an offer
waits on it, so it is held only for the last statement and the commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.context import Platform
from backend.db import Tx
from backend.errors import IdempotencyConflict, NotCancellable, UnknownReservation
from backend.ledger_store import post
from backend.merchants.directory import MERCHANTS
from backend.merchants.offers import OFFERS, RESERVATIONS
from backend.models import LedgerBalance
from backend.privacy.deletion import ensure_not_deleted
from backend.redemption import hot_path
from backend.redemption.schemas import CodeRead, ReservationRead, ReservationWithCode
from backend.redemption.terms import check_offer_row
from points_engine.ledger import Account, InsufficientBalance, spend_reserve_tx, spend_void_tx
from points_engine.redemption import (
    InsufficientPoints,
    OutOfStock,
    lookup_hash,
    short_code,
    sign,
)

BALANCES: Table = LedgerBalance.__table__  # type: ignore[assignment]
TAKEN = ("reserved", "redeemed")  # what counts against the per-citizen limit
SWEEP_BATCH = 200


@dataclass(frozen=True, slots=True)
class Reserved:
    reservation: ReservationWithCode
    replayed: bool  # the Idempotency-Key named a reservation made before


def reservation_id_for(citizen_id: str, idempotency_key: str | None) -> str:
    """A new id, or with an Idempotency-Key the same id for the same citizen and key."""
    if idempotency_key is None:
        return f"r_{secrets.token_hex(12)}"
    return "r_" + hashlib.sha256(f"{citizen_id}\x1f{idempotency_key}".encode()).hexdigest()[:24]


async def reserve(
    platform: Platform, citizen_id: str, offer_id: str, now: datetime, idempotency_key: str | None = None
) -> Reserved:
    """Hold the offer's price from the citizen's available points and one unit of its stock, for
    ``reservation_ttl_s``; the code to show the merchant comes with it. ``CitizenDeleted`` for a
    deleted account (its token may still be valid)."""
    reservation_id = reservation_id_for(citizen_id, idempotency_key)
    ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
    if platform.pg is not None:
        made = await hot_path.reserve(
            platform.pg, citizen_id, offer_id, reservation_id, platform.redemption_key, ttl, now
        )
        if made is not None:
            return Reserved(with_code(platform, made, now), replayed=False)
    else:  # the hot path checks this in its transaction
        await ensure_not_deleted(platform.db, citizen_id)

    async def use_case(tx: Tx) -> Reserved:
        conn = tx.conn
        available = await lock_citizen(conn, citizen_id)
        if idempotency_key is not None:  # under the citizen's lock: a concurrent retry sees this one
            known = await reservation_row(conn, reservation_id)
            if known is not None:
                if known.citizen_id != citizen_id or known.offer_id != offer_id:
                    raise IdempotencyConflict("this Idempotency-Key reserved a different offer")
                return Reserved(with_code(platform, known, now), replayed=True)
        available += sum(row.points for row in await void_expired(conn, now, citizen_id=citizen_id))
        offer = (
            await conn.execute(
                select(OFFERS, MERCHANTS.c.status.label("merchant_status"))
                .join(MERCHANTS, MERCHANTS.c.merchant_id == OFFERS.c.merchant_id)
                .where(OFFERS.c.offer_id == offer_id)
            )
        ).first()
        r = RESERVATIONS.c
        taken = (
            await conn.execute(
                select(func.count()).where(
                    r.citizen_id == citizen_id, r.offer_id == offer_id, r.status.in_(TAKEN)
                )
            )
        ).scalar_one()
        check_offer_row(offer, offer_id, now, int(taken), available)
        hold = spend_reserve_tx(citizen_id, reservation_id, offer.price_points)
        try:
            await post(conn, [hold], now)
        except InsufficientBalance as exc:  # unreachable under the citizen lock; kept as the last word
            raise InsufficientPoints(f"not enough available points: {exc.detail}") from exc
        row: dict[str, Any] = {
            "reservation_id": reservation_id,
            "offer_id": offer_id,
            "merchant_id": offer.merchant_id,
            "citizen_id": citizen_id,
            "points": offer.price_points,
            "book": offer.book,
            "status": "reserved",
            "code_hash": lookup_hash(short_code(platform.redemption_key, reservation_id)),
            "reserve_tx": hold.tx_id,
            "reserved_at": now,
            "expires_at": now + ttl,
        }
        await conn.execute(RESERVATIONS.insert().values(**row))
        # Last, so that the offer's row (every reservation of the offer waits on it) is locked only
        # for this statement and the commit. The read above may be stale by now: this row lock and
        # condition are what keep stock >= 0; refused, everything above rolls back.
        took = await conn.execute(
            update(OFFERS)
            .where(OFFERS.c.offer_id == offer_id, OFFERS.c.stock_left > 0, OFFERS.c.status == "active")
            .values(stock_left=OFFERS.c.stock_left - 1)
        )
        if not took.rowcount:
            raise OutOfStock("the offer is out of stock")
        made = {**row, "title": offer.title, "redeemed_at": None, "voided_at": None, "reversed_at": None}
        return Reserved(with_code(platform, made, now), replayed=False)

    result: Reserved = await platform.db.run(use_case)
    return result


async def cancel(platform: Platform, citizen_id: str, reservation_id: str, now: datetime) -> ReservationRead:
    """The citizen changed their mind: the hold is voided, points and stock return."""

    async def use_case(tx: Tx) -> ReservationRead:
        await lock_citizen(tx.conn, citizen_id)
        row = await reservation_row(tx.conn, reservation_id, lock=True)
        if row is None or row.citizen_id != citizen_id:
            raise UnknownReservation(f"you have no reservation {reservation_id!r}")
        if row.status != "reserved":
            raise NotCancellable(f"the reservation is {row.status}")
        await void(tx.conn, row, now, "cancelled" if now < row.expires_at else "expired")
        return read(await reservation_row(tx.conn, reservation_id))

    result: ReservationRead = await platform.db.run(use_case)
    return result


async def lock_citizen(conn: AsyncConnection, citizen_id: str) -> int:
    """Lock the citizen's available balance (PostgreSQL; SQLite has one writer anyway) and return it."""
    query = select(BALANCES.c.balance).where(
        BALANCES.c.account == str(Account.available(citizen_id)), BALANCES.c.shard == 0
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return int((await conn.execute(query)).scalar_one_or_none() or 0)


async def void(conn: AsyncConnection, row: Row[Any], now: datetime, status: str) -> None:
    """Void a live reservation (the caller holds its lock): points back to available, the unit
    back to stock, the code dead."""
    hold = spend_reserve_tx(row.citizen_id, row.reservation_id, row.points)
    undo = spend_void_tx(hold)
    await post(conn, [undo], now)
    await conn.execute(
        update(RESERVATIONS)
        .where(RESERVATIONS.c.reservation_id == row.reservation_id)
        .values(status=status, voided_at=now, resolved_tx=undo.tx_id)
    )
    await conn.execute(
        update(OFFERS).where(OFFERS.c.offer_id == row.offer_id).values(stock_left=OFFERS.c.stock_left + 1)
    )


async def void_expired(conn: AsyncConnection, now: datetime, *, citizen_id: str) -> list[Row[Any]]:
    """Void the citizen's expired reservations (the caller holds the citizen's lock); those voided."""
    r = RESERVATIONS.c
    query = select(RESERVATIONS).where(
        r.citizen_id == citizen_id, r.status == "reserved", r.expires_at <= now
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(await conn.execute(query.order_by(r.reservation_id)))
    for row in rows:
        await void(conn, row, now, "expired")
    return rows


async def sweep_expired(platform: Platform, now: datetime | None = None) -> int:
    """Void every expired reservation, a batch of citizens at a time; how many were voided."""
    now = now or datetime.now(UTC)
    r = RESERVATIONS.c
    voided = 0
    while True:
        async with platform.db.read() as conn:
            citizens = list(
                (
                    await conn.execute(
                        select(r.citizen_id)
                        .where(r.status == "reserved", r.expires_at <= now)
                        .distinct()
                        .limit(SWEEP_BATCH)
                    )
                ).scalars()
            )
        if not citizens:
            return voided
        for citizen_id in citizens:

            async def one(tx: Tx, citizen_id: str = citizen_id) -> int:
                await lock_citizen(tx.conn, citizen_id)
                return len(await void_expired(tx.conn, now, citizen_id=citizen_id))

            voided += await platform.db.run(one)


async def citizen_reservations(
    platform: Platform, citizen_id: str, now: datetime, status: str | None = None, limit: int = 50
) -> list[ReservationWithCode]:
    r = RESERVATIONS.c
    query = _with_title().where(r.citizen_id == citizen_id).order_by(r.reserved_at.desc()).limit(limit)
    if status is not None:
        query = query.where(r.status == status)
    async with platform.db.read() as conn:
        return [with_code(platform, row, now) for row in await conn.execute(query)]


async def citizen_reservation(
    platform: Platform, citizen_id: str, reservation_id: str, now: datetime
) -> ReservationWithCode:
    async with platform.db.read() as conn:
        row = await reservation_row(conn, reservation_id)
    if row is None or row.citizen_id != citizen_id:
        raise UnknownReservation(f"you have no reservation {reservation_id!r}")
    return with_code(platform, row, now)


def read(row: Row[Any] | Mapping[str, Any] | None) -> ReservationRead:
    if row is None:  # the caller has just read or written it in the same transaction
        raise UnknownReservation("the reservation vanished")
    if isinstance(row, Mapping):
        return ReservationRead.model_validate(row)
    return ReservationRead.model_validate(row, from_attributes=True)


def with_code(
    platform: Platform, row: Row[Any] | Mapping[str, Any] | None, now: datetime
) -> ReservationWithCode:
    base = read(row)
    code = None
    if base.status == "reserved" and now < base.expires_at:
        rid, expires = base.reservation_id, base.expires_at
        path = f"/v1/citizen/reservations/{rid}/qr"
        code = CodeRead(
            token=sign(platform.redemption_key, rid, int(expires.timestamp())),
            short_code=short_code(platform.redemption_key, rid),
            qr_png=f"{path}.png",
            qr_svg=f"{path}.svg",
            expires_at=expires,
        )
    return ReservationWithCode(**base.model_dump(), code=code)


def _with_title() -> Any:
    return select(RESERVATIONS, OFFERS.c.title).join(OFFERS, OFFERS.c.offer_id == RESERVATIONS.c.offer_id)


async def reservation_row(
    conn: AsyncConnection, reservation_id: str, *, lock: bool = False
) -> Row[Any] | None:
    query = _with_title().where(RESERVATIONS.c.reservation_id == reservation_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=RESERVATIONS)
    return (await conn.execute(query)).first()
