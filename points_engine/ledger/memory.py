"""The in-memory ledger: the reference implementation and the model for the SQL and Redis adapters."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from points_engine.errors import EngineError, InvariantViolation
from points_engine.ledger.accounts import Account
from points_engine.ledger.rules import LedgerState, plan
from points_engine.ledger.transactions import Transaction, check_transaction


class Ledger:
    """A journal of transactions and the balances it implies, kept in dicts (``balance`` is O(1))."""

    def __init__(self) -> None:
        self._journal: list[Transaction] = []
        self._by_id: dict[str, Transaction] = {}
        self._balances: dict[Account, int] = {}
        self._resolved_by: dict[str, str] = {}

    def apply(self, tx: Transaction) -> bool:
        """Apply one transaction: True if applied now, False if it was applied before (same content)."""
        return self.apply_many((tx,))[0]

    def apply_many(self, txs: Iterable[Transaction]) -> tuple[bool, ...]:
        """Apply ``txs`` in order, all or none (see ``rules.plan`` for what is refused)."""
        effects = plan(txs, LedgerState(self._balances, self._by_id, self._resolved_by))
        self._journal.extend(effects.appended)
        self._by_id.update((tx.tx_id, tx) for tx in effects.appended)
        self._balances.update(effects.balances)
        self._resolved_by.update(effects.resolved_by)
        return effects.fresh

    def balance(self, account: Account) -> int:
        return self._balances.get(account, 0)

    def balances(self) -> dict[Account, int]:
        """A snapshot of every account ever posted to."""
        return dict(self._balances)

    def get(self, tx_id: str) -> Transaction | None:
        return self._by_id.get(tx_id)

    def resolved_by(self, pending_id: str) -> str | None:
        """The follow-up that posted or voided a pending transfer, if any did."""
        return self._resolved_by.get(pending_id)

    @property
    def journal(self) -> tuple[Transaction, ...]:
        """Every applied transaction, in the order applied."""
        return tuple(self._journal)

    def check(self) -> None:
        """Recompute everything from the journal; ``InvariantViolation`` on any disagreement."""
        sums: dict[Account, int] = {}
        for tx in self._journal:
            check_transaction(tx)
            for p in tx.postings:
                sums[p.account] = sums.get(p.account, 0) + p.amount
        for account in sums.keys() | self._balances.keys():
            if sums.get(account, 0) != self._balances.get(account, 0):
                raise InvariantViolation(
                    f"{account}: balance {self.balance(account)}, postings sum to {sums.get(account, 0)}"
                )
        if sum(self._balances.values()) != 0:
            raise InvariantViolation(f"balances sum to {sum(self._balances.values())}, not zero")
        for account, balance in self._balances.items():
            if balance < 0 and not account.may_go_negative:
                raise InvariantViolation(f"{account} is negative: {balance}")
        self._check_replay()
        self._check_two_phase()

    def _check_replay(self) -> None:
        try:
            replay = plan(self._journal, LedgerState())
        except EngineError as exc:
            raise InvariantViolation(f"the journal does not replay: {exc}") from exc
        if not all(replay.fresh) or self._by_id != {tx.tx_id: tx for tx in self._journal}:
            raise InvariantViolation("the journal and its index disagree")
        if dict(replay.resolved_by) != self._resolved_by:
            raise InvariantViolation("resolved pending transfers disagree with the journal")

    def _check_two_phase(self) -> None:
        open_sums: dict[Account, int] = {}
        for tx in self._journal:
            if tx.opens_pending and tx.tx_id not in self._resolved_by:
                open_sums[tx.credit.account] = open_sums.get(tx.credit.account, 0) + tx.amount
        for account, balance in self._balances.items():
            if account.is_two_phase and balance != open_sums.get(account, 0):
                raise InvariantViolation(
                    f"{account}: balance {balance}, open pending transfers {open_sums.get(account, 0)}"
                )

    # The Journal port (points_engine.ledger.ports).

    async def append(self, txs: Sequence[Transaction]) -> tuple[bool, ...]:
        return self.apply_many(txs)

    async def balances_of(self, accounts: Collection[Account]) -> dict[Account, int]:
        return {account: self.balance(account) for account in accounts}

    async def transactions(self, tx_ids: Collection[str]) -> dict[str, Transaction]:
        return {tx_id: self._by_id[tx_id] for tx_id in tx_ids if tx_id in self._by_id}
