"""Postings and transactions, their kinds, deterministic ids, and the double-entry invariants.

Every transaction moves one amount from one account (the debit, a negative posting) to
another (the credit, a positive posting); which account kinds each transaction kind may
move between is the table ``SHAPES``. A transaction that breaks an invariant cannot be
constructed: ``InvariantViolation`` is raised, explicitly, never by ``assert``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from points_engine.errors import InvariantViolation
from points_engine.frozen import fast_init
from points_engine.ledger.accounts import Account, AccountKind

TxKind: TypeAlias = Literal[
    "settle",
    "certify",
    "certify-run",
    "void",
    "spend-reserve",
    "spend-post",
    "spend-void",
    "reverse",
    "expire",
    "bonus",
]

# (debit kind, credit kind): the moves each transaction kind may make. docs/ledger.md has the same table.
SHAPES: Mapping[TxKind, frozenset[tuple[AccountKind, AccountKind]]] = {
    "settle": frozenset({("issuance", "citizen-pending")}),
    "certify": frozenset({("citizen-pending", "citizen-available")}),
    # A certification run moves all of a citizen's points it certified in one transaction: which
    # settles those were is the run's membership (docs/certification.md), not a per-settle cause.
    "certify-run": frozenset({("citizen-pending", "citizen-available")}),
    # A voided settle goes to its book's void account; a voided pending bonus back to its campaign.
    "void": frozenset({("citizen-pending", "void"), ("citizen-pending", "campaign")}),
    "spend-reserve": frozenset({("citizen-available", "citizen-held")}),
    "spend-post": frozenset({("citizen-held", "merchant")}),
    "spend-void": frozenset({("citizen-held", "citizen-available")}),
    "reverse": frozenset({("merchant", "citizen-available")}),
    "expire": frozenset({("citizen-available", "expiry")}),
    "bonus": frozenset({("campaign", "citizen-pending"), ("campaign", "citizen-available")}),
}
TX_KINDS: tuple[TxKind, ...] = tuple(SHAPES)

# Follow-ups: their cause is the tx_id of the transaction they follow, of one of these kinds.
FOLLOWS: Mapping[TxKind, frozenset[TxKind]] = {
    "certify": frozenset({"settle", "bonus"}),
    "void": frozenset({"settle", "bonus"}),
    "spend-post": frozenset({"spend-reserve"}),
    "spend-void": frozenset({"spend-reserve"}),
    "reverse": frozenset({"spend-post"}),
}

TX_ID = re.compile(r"tx_[0-9a-f]{32}")
MAX_KEY_LENGTH = 256
_WHITESPACE = re.compile(r"\s")  # str.isspace's set, searched in C


def tx_id_for(kind: TxKind, cause: str) -> str:
    """``tx_`` + 128 bits of SHA-256 over kind and cause: the same cause always has the same id."""
    digest = hashlib.sha256(f"{kind}\x1f{cause}".encode()).hexdigest()
    return f"tx_{digest[:32]}"


def is_key(value: object) -> bool:
    """A cause key: 1-256 printable characters, no whitespace (so joining keys stays unambiguous)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_KEY_LENGTH
        and value.isprintable()
        and _WHITESPACE.search(value) is None
    )


@fast_init
@dataclass(frozen=True, slots=True)
class Posting:
    """``amount`` points added to ``account``'s balance (negative: taken from it)."""

    account: Account
    amount: int


@fast_init
@dataclass(frozen=True, slots=True)
class Transaction:
    """Postings applied together, once, identified by ``tx_id`` = ``tx_id_for(kind, cause)``.

    Postings are kept in canonical order (debit first), so equal content compares equal.
    """

    tx_id: str
    kind: TxKind
    postings: tuple[Posting, ...]
    cause: str

    def __post_init__(self) -> None:
        postings = tuple(self.postings)
        if not all(_well_typed(p) for p in postings):
            raise InvariantViolation(f"transaction {self.tx_id!r}: postings must be Posting(Account, int)")
        object.__setattr__(self, "postings", tuple(sorted(postings, key=_canonical)))
        check_transaction(self)

    @classmethod
    def of(cls, kind: TxKind, cause: str, postings: Iterable[Posting]) -> Transaction:
        return cls(tx_id_for(kind, cause), kind, tuple(postings), cause)

    @property
    def debit(self) -> Posting:
        """The posting points leave (negative amount)."""
        return self.postings[0]

    @property
    def credit(self) -> Posting:
        """The posting points arrive at (positive amount)."""
        return self.postings[-1]

    @property
    def amount(self) -> int:
        """The points moved."""
        return self.credit.amount

    @property
    def origin_id(self) -> str | None:
        """For a follow-up, the tx_id of the transaction it follows; otherwise None."""
        return self.cause if self.kind in FOLLOWS else None

    @property
    def opens_pending(self) -> bool:
        """Credits a two-phase account: an open pending transfer until a follow-up resolves it."""
        return self.credit.account.is_two_phase

    @property
    def resolves_pending(self) -> bool:
        """Debits a two-phase account: posts or voids the pending transfer it follows."""
        return self.debit.account.is_two_phase


_new = object.__new__
_set = object.__setattr__


def built_move(kind: TxKind, cause: str, debit: Posting, credit: Posting) -> Transaction:
    """The transaction of a builder whose inputs make every invariant hold by construction: a key
    as cause, two distinct validated accounts of a move in ``SHAPES[kind]`` for one citizen at most,
    and ``debit.amount == -credit.amount < 0``. ``check_transaction`` would only confirm that (at a
    few µs per action on the settlement hot path), so it is skipped; every other way in is checked."""
    tx: Transaction = _new(Transaction)
    _set(tx, "tx_id", tx_id_for(kind, cause))
    _set(tx, "kind", kind)
    _set(tx, "postings", (debit, credit))  # canonical: the debit is negative
    _set(tx, "cause", cause)
    return tx


def _well_typed(posting: object) -> bool:
    return (
        isinstance(posting, Posting)
        and isinstance(posting.account, Account)
        and type(posting.amount) is int  # not bool, not float
    )


def _canonical(posting: Posting) -> tuple[bool, str]:
    return (posting.amount > 0, str(posting.account))


def check_transaction(tx: Transaction) -> None:
    """Raise ``InvariantViolation`` unless ``tx`` keeps every invariant of a ledger transaction."""
    where = f"transaction {tx.tx_id!r} ({tx.kind})"
    if tx.kind not in SHAPES:
        raise InvariantViolation(f"{where}: unknown kind")
    if len(tx.postings) < 2:
        raise InvariantViolation(f"{where}: needs at least two postings")
    for p in tx.postings:
        if type(p.amount) is not int or p.amount == 0:
            raise InvariantViolation(f"{where}: posting to {p.account} of {p.amount!r} is not a non-zero int")
    if len({p.account for p in tx.postings}) != len(tx.postings):
        raise InvariantViolation(f"{where}: posts twice to one account")
    total = sum(p.amount for p in tx.postings)
    if total != 0:
        raise InvariantViolation(f"{where}: postings sum to {total}, not zero")
    if not is_key(tx.cause):
        raise InvariantViolation(f"{where}: cause {tx.cause!r} is not a key")
    if tx.tx_id != tx_id_for(tx.kind, tx.cause):
        raise InvariantViolation(f"{where}: tx_id is not derived from kind and cause")
    _check_shape(tx, where)


def _check_shape(tx: Transaction, where: str) -> None:
    if len(tx.postings) != 2:
        raise InvariantViolation(f"{where}: moves one amount between two accounts, not {len(tx.postings)}")
    move = (tx.debit.account.kind, tx.credit.account.kind)
    if move not in SHAPES[tx.kind]:
        raise InvariantViolation(f"{where}: may not move points from {move[0]} to {move[1]}")
    citizens = {p.account.citizen_id for p in tx.postings} - {None}
    if len(citizens) > 1:
        raise InvariantViolation(f"{where}: points are not transferable between citizens")
    if tx.kind in FOLLOWS and not TX_ID.fullmatch(tx.cause):
        raise InvariantViolation(f"{where}: a {tx.kind} names the tx_id it follows as its cause")
