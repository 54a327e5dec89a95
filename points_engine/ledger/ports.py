"""What a storage adapter of the ledger must offer (PostgreSQL and Redis adapters come later).

Methods are batch-shaped, speak engine types only, and are async because real adapters do
I/O. An adapter applies exactly the rules of ``points_engine.ledger.rules.plan``: it loads
the ``reads(txs)`` part of its state, locked, and writes the ``Effects`` in one transaction.
The in-memory ``Ledger`` implements this protocol and is the reference the adapters must match.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from points_engine.ledger.accounts import Account
from points_engine.ledger.transactions import Transaction


class Journal(Protocol):
    async def append(self, txs: Sequence[Transaction]) -> tuple[bool, ...]:
        """Apply ``txs`` in order, all or none: True per newly applied transaction, False per replay.

        Raises (changing nothing) ``ConflictingTransaction``, ``UnknownOrigin``,
        ``PendingAlreadyResolved``, ``InsufficientBalance`` or ``InvariantViolation``.
        """
        ...

    async def balances_of(self, accounts: Collection[Account]) -> dict[Account, int]:
        """The balance of each account (0 if never posted to), read together."""
        ...

    async def transactions(self, tx_ids: Collection[str]) -> dict[str, Transaction]:
        """The applied transactions among ``tx_ids``; ids never applied are absent."""
        ...
