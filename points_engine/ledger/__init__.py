"""Tanhui's double-entry points ledger (docs/ledger.md).

Accounts have typed ids (``citizen:c_1:available``); a transaction moves one amount from
one account to another, its postings sum to zero, and its ``tx_id`` derives from its
cause, so applying it twice is a no-op. ``Ledger`` is the in-memory reference; storage
adapters implement the ``Journal`` port with the same ``rules.plan``.
"""

from points_engine.ledger.accounts import ACCOUNT_KINDS, SOURCE_KINDS, TWO_PHASE_KINDS, Account, AccountKind
from points_engine.ledger.builders import (
    bonus_tx,
    certify_run_tx,
    certify_tx,
    expire_tx,
    reverse_tx,
    settle_tx,
    spend_post_tx,
    spend_reserve_tx,
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
from points_engine.ledger.memory import Ledger
from points_engine.ledger.ports import Journal
from points_engine.ledger.rules import Effects, LedgerState, plan, reads
from points_engine.ledger.transactions import (
    FOLLOWS,
    SHAPES,
    TX_KINDS,
    Posting,
    Transaction,
    TxKind,
    check_transaction,
    tx_id_for,
)

__all__ = [
    "ACCOUNT_KINDS",
    "FOLLOWS",
    "SHAPES",
    "SOURCE_KINDS",
    "TWO_PHASE_KINDS",
    "TX_KINDS",
    "Account",
    "AccountKind",
    "ConflictingTransaction",
    "Effects",
    "InsufficientBalance",
    "InvalidTransaction",
    "Journal",
    "Ledger",
    "LedgerState",
    "PendingAlreadyResolved",
    "Posting",
    "Transaction",
    "TxKind",
    "UnknownOrigin",
    "bonus_tx",
    "certify_run_tx",
    "certify_tx",
    "check_transaction",
    "expire_tx",
    "plan",
    "reads",
    "reverse_tx",
    "settle_tx",
    "spend_post_tx",
    "spend_reserve_tx",
    "spend_void_tx",
    "tx_id_for",
    "void_tx",
]
