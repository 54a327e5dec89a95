"""Posting ledger transactions outside the settlement hot path (certification, reviews, later
redemptions): idempotent by ``tx_id``, balances moved only for transactions new to the journal.

Runs in the caller's transaction; never commits. A citizen or merchant balance driven below zero
raises ``InsufficientBalance`` and so rolls the whole use case back. ``balances`` is the one read of
given accounts' balances (each the sum of its ``ledger_balances`` shards).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.settlement.repository import BALANCES, TX_COLUMNS, TXS, add_balances, balance_deltas, tx_row
from points_engine.ledger import Account, InsufficientBalance, Transaction

_PG_APPEND = text(
    f"""
    INSERT INTO ledger_transactions ({", ".join(TX_COLUMNS)})
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:causes AS text[]),
                         CAST(:debits AS text[]), CAST(:credits AS text[]), CAST(:amounts AS bigint[]),
                         CAST(:ats AS timestamptz[]))
    ON CONFLICT (tx_id) DO NOTHING
    RETURNING tx_id
    """
)


async def post(conn: AsyncConnection, txs: Sequence[Transaction], now: datetime) -> int:
    """Append the transactions the journal does not hold yet and apply their postings; how many
    were new. A transaction already booked is skipped (same tx_id: same cause, same effect)."""
    if not txs:
        return 0
    rows = [tx_row(tx, now) for tx in txs]
    if conn.dialect.name == "postgresql":
        columns = list(zip(*rows, strict=True))
        names = ("ids", "kinds", "causes", "debits", "credits", "amounts", "ats")
        fresh_ids = set(
            (await conn.execute(_PG_APPEND, dict(zip(names, map(list, columns), strict=True)))).scalars()
        )
    else:
        known = set(
            (
                await conn.execute(select(TXS.c.tx_id).where(TXS.c.tx_id.in_([tx.tx_id for tx in txs])))
            ).scalars()
        )
        new_rows = [r for r in rows if r[0] not in known]
        if new_rows:
            await conn.execute(TXS.insert(), [dict(zip(TX_COLUMNS, r, strict=True)) for r in new_rows])
        fresh_ids = {r[0] for r in new_rows}
    fresh = [tx for tx in txs if tx.tx_id in fresh_ids]
    deltas = balance_deltas(fresh, 0)
    await add_balances(conn, deltas)
    guarded = sorted({a for a, _ in deltas if not Account.parse(a).may_go_negative})
    negative = next(((a, b) for a, b in (await balances(conn, guarded)).items() if b < 0), None)
    if negative is not None:
        account = Account.parse(negative[0])
        moved = sum(p.amount for tx in fresh for p in tx.postings if p.account == account)
        raise InsufficientBalance(account, negative[1] - moved, -moved)
    return len(fresh)


async def balances(
    conn: AsyncConnection, accounts: Iterable[str | Account], *, lock: bool = False
) -> dict[str, int]:
    """Each account's balance, the sum of its shards, by account id in the order asked; an account
    with no row has 0. ``lock``: its rows stay locked to the end of the transaction, taken in
    (account, shard) order (PostgreSQL; SQLite has one writer)."""
    sums = dict.fromkeys(map(str, accounts), 0)
    if not sums:
        return sums
    b = BALANCES.c
    if lock:  # PostgreSQL refuses FOR UPDATE with GROUP BY: lock and read the rows, sum them here
        query = select(b.account, b.balance).order_by(b.account, b.shard).with_for_update()
    else:
        query = select(b.account, func.sum(b.balance)).group_by(b.account)
    for account, balance in await conn.execute(query.where(b.account.in_(sums))):
        sums[account] += int(balance)
    return sums
