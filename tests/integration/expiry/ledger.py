"""A citizen's ledger history booked through ``ledger_store.post`` at chosen times, as
certification, campaigns and redemptions would book it."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import func, select

from backend.context import Platform
from backend.expiry.movements import BALANCES, TXS
from backend.ledger_store import post
from points_engine.certification import Period, run_id
from points_engine.ledger import (
    Transaction,
    bonus_tx,
    certify_run_tx,
    certify_tx,
    reverse_tx,
    settle_tx,
    spend_post_tx,
    spend_reserve_tx,
    spend_void_tx,
)

_n = itertools.count(1)


async def book_at(platform: Platform, txs: list[Transaction], at: datetime) -> None:
    async with platform.db.transaction() as tx:
        await post(tx.conn, txs, at)


async def earn(platform: Platform, citizen: str, points: int, at: datetime, book: str = "shantou") -> None:
    """Points of an action, certified by a run of ``at``'s month: settle, then certify-run."""
    n = next(_n)
    run = run_id(book, str(Period.containing(at)), n)  # type: ignore[arg-type]
    settle = settle_tx(book, citizen, f"transit_st/{citizen}-{n}", points)  # type: ignore[arg-type]
    await book_at(platform, [settle], at)
    await book_at(platform, [certify_run_tx(run, citizen, points)], at)


async def earn_by_certify(platform: Platform, citizen: str, points: int, at: datetime, book: str) -> None:
    """Points of one action certified on its own (certify follows the settle)."""
    settle = settle_tx(book, citizen, f"transit_st/{citizen}-{next(_n)}", points)  # type: ignore[arg-type]
    await book_at(platform, [settle, certify_tx(settle)], at)


async def bonus(platform: Platform, citizen: str, points: int, at: datetime) -> None:
    await book_at(platform, [bonus_tx("spring", citizen, f"g{next(_n)}", points)], at)


async def reserve(platform: Platform, citizen: str, points: int, at: datetime) -> Transaction:
    reservation = spend_reserve_tx(citizen, f"r_{next(_n)}", points)
    await book_at(platform, [reservation], at)
    return reservation


async def cancel(platform: Platform, reservation: Transaction, at: datetime) -> None:
    await book_at(platform, [spend_void_tx(reservation)], at)


async def redeem(platform: Platform, citizen: str, points: int, at: datetime) -> Transaction:
    """Reserve and post at a merchant: the posted spend, which a refund reverses."""
    posted = spend_post_tx(await reserve(platform, citizen, points, at), "m_tea")
    await book_at(platform, [posted], at)
    return posted


async def refund(platform: Platform, posted: Transaction, at: datetime) -> None:
    await book_at(platform, [reverse_tx(posted)], at)


async def balance(platform: Platform, account: str) -> int:
    async with platform.db.read() as conn:
        total = await conn.execute(select(func.sum(BALANCES.c.balance)).where(BALANCES.c.account == account))
        return int(total.scalar_one() or 0)


async def transactions(platform: Platform, kind: str) -> int:
    async with platform.db.read() as conn:
        return int((await conn.execute(select(func.count()).where(TXS.c.kind == kind))).scalar_one())
