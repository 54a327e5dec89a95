"""The ledger's rules as one pure function, so every storage adapter applies the same ones.

``plan(txs, state)`` decides, in order, what applying ``txs`` to ``state`` does, or raises
and decides nothing. An adapter loads the ``reads(txs)`` part of its state (locking it),
calls ``plan``, and writes the ``Effects``; the in-memory ``Ledger`` passes its own dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from points_engine.errors import InvariantViolation
from points_engine.ledger.accounts import Account
from points_engine.ledger.builders import (
    certify_tx,
    reverse_tx,
    spend_post_tx,
    spend_void_tx,
    void_tx,
)
from points_engine.ledger.errors import (
    ConflictingTransaction,
    InsufficientBalance,
    InvalidTransaction,
    PendingAlreadyResolved,
    UnknownOrigin,
)
from points_engine.ledger.transactions import Transaction, check_transaction


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What ``plan`` reads: balances (absent = 0), applied transactions, and resolved pendings."""

    balances: Mapping[Account, int] = field(default_factory=dict)
    transactions: Mapping[str, Transaction] = field(default_factory=dict)
    resolved_by: Mapping[str, str] = field(default_factory=dict)  # pending tx_id → its follow-up's


@dataclass(frozen=True, slots=True)
class Effects:
    """What applying a batch does: per transaction, whether it is new (False: a replay)."""

    fresh: tuple[bool, ...]
    appended: tuple[Transaction, ...]
    balances: Mapping[Account, int]  # the new balance of every account the batch posts to
    resolved_by: Mapping[str, str]  # pending transfers this batch resolves


def reads(txs: Iterable[Transaction]) -> tuple[frozenset[Account], frozenset[str]]:
    """The accounts and tx_ids (their own and their origins') ``plan`` looks up for ``txs``."""
    txs = tuple(txs)
    accounts = frozenset(p.account for tx in txs for p in tx.postings)
    ids = {tx.tx_id for tx in txs} | {tx.origin_id for tx in txs if tx.origin_id is not None}
    return accounts, frozenset(ids)


def plan(txs: Iterable[Transaction], state: LedgerState) -> Effects:
    """Apply ``txs`` in order on top of ``state``, all or none, without changing ``state``.

    Raises ``ConflictingTransaction``, ``UnknownOrigin``, ``PendingAlreadyResolved``,
    ``InsufficientBalance`` or ``InvariantViolation`` for the first transaction that fails.
    """
    batch = _Batch(state)
    fresh = tuple(batch.apply(tx) for tx in txs)
    return Effects(fresh, tuple(batch.appended), batch.balances, batch.resolved_by)


class _Batch:
    def __init__(self, state: LedgerState) -> None:
        self.state = state
        self.appended: list[Transaction] = []
        self.by_id: dict[str, Transaction] = {}
        self.balances: dict[Account, int] = {}
        self.resolved_by: dict[str, str] = {}

    def apply(self, tx: Transaction) -> bool:
        known = self.transaction(tx.tx_id)
        if known is not None:
            if known != tx:
                raise ConflictingTransaction(tx.tx_id)
            return False
        check_transaction(tx)
        self.check_origin(tx)
        new = {p.account: self.balance(p.account) + p.amount for p in tx.postings}
        for p in tx.postings:
            if new[p.account] < 0 and not p.account.may_go_negative:
                raise InsufficientBalance(p.account, self.balance(p.account), -p.amount)
        self.balances.update(new)
        self.appended.append(tx)
        self.by_id[tx.tx_id] = tx
        if tx.resolves_pending and tx.origin_id is not None:
            self.resolved_by[tx.origin_id] = tx.tx_id
        return True

    def check_origin(self, tx: Transaction) -> None:
        origin_id = tx.origin_id
        if origin_id is None:
            return
        origin = self.transaction(origin_id)
        if origin is None:
            raise UnknownOrigin(tx.tx_id, origin_id)
        if _rebuilt(tx, origin) != tx:
            raise InvariantViolation(f"{tx.tx_id} ({tx.kind}) does not match {origin_id}, which it follows")
        if tx.resolves_pending:
            resolved_by = self.resolver(origin_id)
            if resolved_by is not None:
                raise PendingAlreadyResolved(origin_id, resolved_by)

    def transaction(self, tx_id: str) -> Transaction | None:
        return self.by_id.get(tx_id) or self.state.transactions.get(tx_id)

    def balance(self, account: Account) -> int:
        if account in self.balances:
            return self.balances[account]
        return self.state.balances.get(account, 0)

    def resolver(self, pending_id: str) -> str | None:
        return self.resolved_by.get(pending_id) or self.state.resolved_by.get(pending_id)


def _rebuilt(tx: Transaction, origin: Transaction) -> Transaction:
    """The follow-up of kind ``tx.kind`` that the builders derive from ``origin``."""
    try:
        if tx.kind == "certify":
            return certify_tx(origin)
        if tx.kind == "void":
            return void_tx(origin)
        if tx.kind == "spend-post":
            return spend_post_tx(origin, tx.credit.account.owner)
        if tx.kind == "spend-void":
            return spend_void_tx(origin)
        if tx.kind == "reverse":
            return reverse_tx(origin)
    except InvalidTransaction as exc:
        raise InvariantViolation(f"{tx.tx_id} ({tx.kind}) cannot follow {origin.tx_id}: {exc}") from exc
    raise InvariantViolation(f"{tx.tx_id} ({tx.kind}) follows no transaction")
