"""SQL of expiry: citizens holding available points, the movements of their available accounts
(as ``points_engine.expiry`` sees them), and the lock spending takes too. Receives an open
connection; never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, func, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import LedgerBalance, LedgerTransaction
from points_engine.expiry import Movement, movement_of
from points_engine.ledger import Account

TXS: Table = LedgerTransaction.__table__  # type: ignore[assignment]
BALANCES: Table = LedgerBalance.__table__  # type: ignore[assignment]
AVAILABLE_LIKE = "citizen:%:available"
# Spelled as a literal, not a bound parameter, so that PostgreSQL's planner proves the predicate
# of the partial indexes ix_ledger_tx_credit / ix_ledger_tx_debit (kind <> 'settle').
_NOT_SETTLE = text("kind <> 'settle'")


def available_of(citizen_id: str) -> str:
    return str(Account.available(citizen_id))


def citizen_of(account: str) -> str:
    return Account.parse(account).owner


async def holders(conn: AsyncConnection, after: str, limit: int) -> list[str]:
    """Up to ``limit`` available accounts with points, in account order after ``after`` (keyset):
    citizen accounts have one shard, 0."""
    b = BALANCES.c
    rows = await conn.execute(
        select(b.account)
        .where(b.account > after, b.account.like(AVAILABLE_LIKE), b.shard == 0, b.balance > 0)
        .order_by(b.account)
        .limit(limit)
    )
    return list(rows.scalars())


async def count_holders(conn: AsyncConnection) -> int:
    b = BALANCES.c
    query = select(func.count()).where(b.account.like(AVAILABLE_LIKE), b.shard == 0, b.balance > 0)
    return int((await conn.execute(query)).scalar_one())


async def lock(conn: AsyncConnection, accounts: Sequence[str]) -> None:
    """Lock the available balance rows, in account order: what a redemption locks first, so expiry
    and spending take turns per citizen (PostgreSQL; SQLite has one writer)."""
    if not accounts:
        return
    b = BALANCES.c
    await conn.execute(
        select(b.account).where(b.account.in_(accounts), b.shard == 0).order_by(b.account).with_for_update()
    )


async def movements(conn: AsyncConnection, accounts: Sequence[str]) -> dict[str, list[Movement]]:
    """Every movement of each available account (settles never touch one), by account."""
    if not accounts:
        return {}
    t = TXS.c
    columns = (t.kind, t.cause, t.credit, t.amount, t.booked_at)
    rows = (
        await conn.execute(
            union_all(
                select(*columns, t.credit.label("account")).where(_NOT_SETTLE, t.credit.in_(accounts)),
                select(*columns, t.debit.label("account")).where(_NOT_SETTLE, t.debit.in_(accounts)),
            )
        )
    ).all()
    origins = await _origin_debits(conn, [r.cause for r in rows if r.kind == "certify"])
    found: dict[str, list[Movement]] = {a: [] for a in accounts}
    for r in rows:
        found[r.account].append(
            movement_of(r.kind, r.cause, r.credit, r.amount, r.booked_at, origins.get(r.cause))
        )
    return found


async def _origin_debits(conn: AsyncConnection, tx_ids: list[str]) -> dict[str, str]:
    """For certifies: the debit account of the settle or bonus each one certifies (its book)."""
    if not tx_ids:
        return {}
    rows = await conn.execute(select(TXS.c.tx_id, TXS.c.debit).where(TXS.c.tx_id.in_(tx_ids)))
    return {tx_id: debit for tx_id, debit in rows}
