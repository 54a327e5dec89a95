"""The citizen's three point balances, read on the caller's connection (the export's snapshot, the
deletion's locks)."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import LedgerBalance
from points_engine.ledger import Account

BALANCES: Table = LedgerBalance.__table__  # type: ignore[assignment]


def accounts_of(citizen_id: str) -> dict[str, str]:
    """Account id -> state, in account order (available, held, pending)."""
    return {
        str(Account.available(citizen_id)): "available",
        str(Account.held(citizen_id)): "held",
        str(Account.pending(citizen_id)): "pending",
    }


async def balances(conn: AsyncConnection, citizen_id: str, *, lock: bool = False) -> dict[str, int]:
    """pending, available and held (sums of shards; never posted: 0). ``lock``: the rows stay locked
    to the end of the transaction, in account order, available first, as redemption and the expiry
    sweep lock it (PostgreSQL; SQLite has one writer)."""
    accounts = accounts_of(citizen_id)
    query = select(BALANCES.c.account, BALANCES.c.balance).where(BALANCES.c.account.in_(accounts))
    if lock:
        query = query.order_by(BALANCES.c.account, BALANCES.c.shard).with_for_update()
    sums = {"pending": 0, "available": 0, "held": 0}
    for account, balance in await conn.execute(query):
        sums[accounts[account]] += int(balance)
    return sums
