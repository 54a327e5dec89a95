"""The citizen's three point balances, read on the caller's connection (the export's snapshot, the
deletion's locks)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from backend import ledger_store
from points_engine.ledger import Account


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
    sums = await ledger_store.balances(conn, accounts, lock=lock)
    by_state = {accounts[account]: balance for account, balance in sums.items()}
    return {state: by_state[state] for state in ("pending", "available", "held")}  # the export's order
