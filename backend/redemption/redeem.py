"""Redeeming a code at the merchant (the second phase) and reversing a redemption.

A redemption posts the hold in one transaction: points to the merchant's account, the unit gone
for good, the code dead. Refusals change nothing, except that an expired code's hold is voided
on the spot (it would be by the sweeper anyway) so the citizen has their points back at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update

from backend.context import Platform
from backend.db import Tx
from backend.errors import ForeignCode, NotReversible, UnknownCode, UnknownReservation
from backend.ledger_store import post
from backend.merchants.directory import Staff, authenticate
from backend.merchants.offers import OFFERS, RESERVATIONS
from backend.redemption import hot_path
from backend.redemption.reservations import lock_citizen, reservation_row, void
from backend.redemption.schemas import RedemptionRead
from points_engine.ledger import reverse_tx, spend_post_tx, spend_reserve_tx
from points_engine.redemption import (
    CodeExpired,
    CodeUsed,
    InvalidCode,
    check_reversible,
    lookup_hash,
    verify,
)


async def redeem(
    platform: Platform, staff_id: str, now: datetime, *, code: str | None = None, short: str | None = None
) -> RedemptionRead:
    """Redeem the reservation a scanned ``code`` or typed ``short`` code names, for the merchant of
    ``staff_id`` (``StaffDisabled`` if they or their merchant may no longer act)."""
    reservation_id: str | None = None
    if code is not None:
        try:
            reservation_id = verify(platform.redemption_key, code).reservation_id
        except InvalidCode:
            await authenticate(platform.db, staff_id)  # a disabled till learns nothing about codes
            raise
    if platform.pg is not None:
        done = await hot_path.redeem(platform.pg, staff_id, now, reservation_id=reservation_id, short=short)
        if done is not None:
            return redemption(done, _window(platform))
    staff = await authenticate(platform.db, staff_id)
    if reservation_id is None:
        async with platform.db.read() as conn:
            reservation_id = (
                await conn.execute(
                    select(RESERVATIONS.c.reservation_id).where(
                        RESERVATIONS.c.code_hash == lookup_hash(short or "")
                    )
                )
            ).scalar_one_or_none()
        if reservation_id is None:
            raise UnknownCode("no reservation has this short code")
    found: str = reservation_id

    async def use_case(tx: Tx) -> RedemptionRead | CodeExpired:
        first = await reservation_row(tx.conn, found)
        if first is None:  # signed by us for a reservation that never committed: treat as unknown
            raise UnknownCode("no reservation has this code")
        if first.merchant_id != staff.merchant_id:
            raise ForeignCode("this code is for another merchant; nothing was changed")
        await lock_citizen(tx.conn, first.citizen_id)
        # A reservation's citizen, points and merchant never change: its post is known before the lock.
        paid = spend_post_tx(spend_reserve_tx(first.citizen_id, found, first.points), staff.merchant_id)
        # The usual case in one statement: take the live code (row lock, condition) and mark it used.
        r = RESERVATIONS.c
        taken = (
            await tx.conn.execute(
                update(RESERVATIONS)
                .where(r.reservation_id == found, r.status == "reserved", r.expires_at > now)
                .values(
                    status="redeemed", redeemed_at=now, redeemed_by=staff.staff_id, resolved_tx=paid.tx_id
                )
                .returning(*RESERVATIONS.c)
            )
        ).first()
        if taken is None:
            row = await reservation_row(tx.conn, found, lock=True)
            if row is None or row.status != "reserved":
                status = "gone" if row is None else row.status
                raise CodeUsed(f"the reservation is {status}; its code cannot be used again")
            await void(tx.conn, row, now, "expired")
            return CodeExpired(f"the code expired at {row.expires_at.isoformat()}; the points went back")
        await post(tx.conn, [paid], now)
        return redemption({**taken._mapping, "title": first.title}, _window(platform))

    result: RedemptionRead | CodeExpired = await platform.db.run(use_case)
    if isinstance(result, CodeExpired):
        raise result  # after the commit: the void stands, the redemption did not happen
    return result


async def reverse(platform: Platform, staff: Staff, reservation_id: str, now: datetime) -> RedemptionRead:
    """Refund a redemption within the reversal window: points back to the citizen's available,
    the unit back in stock."""
    window = _window(platform)

    async def use_case(tx: Tx) -> RedemptionRead:
        first = await reservation_row(tx.conn, reservation_id)
        if first is None or first.merchant_id != staff.merchant_id:
            raise UnknownReservation(f"your merchant has no redemption {reservation_id!r}")
        await lock_citizen(tx.conn, first.citizen_id)
        row = await reservation_row(tx.conn, reservation_id, lock=True)
        if row is None or row.status != "redeemed":
            raise NotReversible(f"the reservation is {'gone' if row is None else row.status}")
        check_reversible(row.redeemed_at, now, window)
        paid = spend_post_tx(
            spend_reserve_tx(row.citizen_id, row.reservation_id, row.points), row.merchant_id
        )
        refund = reverse_tx(paid)
        await post(tx.conn, [refund], now)
        await tx.conn.execute(
            update(RESERVATIONS)
            .where(RESERVATIONS.c.reservation_id == reservation_id)
            .values(status="reversed", reversed_at=now, reversed_by=staff.staff_id, reverse_tx=refund.tx_id)
        )
        await tx.conn.execute(
            update(OFFERS).where(OFFERS.c.offer_id == row.offer_id).values(stock_left=OFFERS.c.stock_left + 1)
        )
        return redemption(await reservation_row(tx.conn, reservation_id), window)

    result: RedemptionRead = await platform.db.run(use_case)
    return result


async def merchant_redemptions(
    platform: Platform, merchant_id: str, since: datetime, until: datetime, limit: int = 500
) -> list[RedemptionRead]:
    """The merchant's redemptions made in [since, until), newest first."""
    r = RESERVATIONS.c
    query = (
        select(RESERVATIONS, OFFERS.c.title)
        .join(OFFERS, OFFERS.c.offer_id == r.offer_id)
        .where(r.merchant_id == merchant_id, r.redeemed_at >= since, r.redeemed_at < until)
        .order_by(r.redeemed_at.desc(), r.reservation_id)
        .limit(limit)
    )
    window = _window(platform)
    async with platform.db.read() as conn:
        return [redemption(row, window) for row in await conn.execute(query)]


def redemption(row: Row[Any] | Mapping[str, Any] | None, window: timedelta) -> RedemptionRead:
    if row is None:
        raise UnknownReservation("the reservation vanished")
    fields = dict(row) if isinstance(row, Mapping) else dict(row._mapping)
    until = fields["redeemed_at"] + window if fields["status"] == "redeemed" else None
    return RedemptionRead.model_validate({**fields, "reversible_until": until})


def _window(platform: Platform) -> timedelta:
    return timedelta(seconds=platform.settings.reversal_window_s)
