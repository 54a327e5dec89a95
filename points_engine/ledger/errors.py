"""Why the ledger refuses a transaction: one error type each, with a stable ``code``.

A refused transaction (or batch) changes nothing. A transaction that breaks the
double-entry invariants is a bug and raises ``points_engine.errors.InvariantViolation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from points_engine.errors import EngineError

if TYPE_CHECKING:
    from points_engine.ledger.accounts import Account


class InvalidTransaction(EngineError):
    """A builder got arguments no transaction can be made of (points, book, id or key)."""

    code = "invalid-transaction"


class ConflictingTransaction(EngineError):
    """The same ``tx_id`` (the same cause) was applied before with different content."""

    code = "transaction-conflict"

    def __init__(self, tx_id: str) -> None:
        super().__init__(f"{tx_id} was applied before with different content")
        self.tx_id = tx_id


class InsufficientBalance(EngineError):
    """The transaction would take an account that may not go negative below zero."""

    code = "insufficient-balance"

    def __init__(self, account: Account, balance: int, amount: int) -> None:
        super().__init__(f"{account} holds {balance} points, {amount} asked")
        self.account = account
        self.balance = balance
        self.amount = amount


class UnknownOrigin(EngineError):
    """A follow-up (certify, void, spend-post, spend-void, reverse) of a transaction never applied."""

    code = "unknown-origin"

    def __init__(self, tx_id: str, origin_id: str) -> None:
        super().__init__(f"{tx_id} follows {origin_id}, which was never applied")
        self.tx_id = tx_id
        self.origin_id = origin_id


class PendingAlreadyResolved(EngineError):
    """Pending points (a settle, a bonus to pending, a reservation) are posted or voided once only."""

    code = "pending-already-resolved"

    def __init__(self, pending_id: str, resolved_by: str) -> None:
        super().__init__(f"{pending_id} was already resolved by {resolved_by}")
        self.pending_id = pending_id
        self.resolved_by = resolved_by
