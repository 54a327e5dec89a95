"""Ledger invariants as hypothesis properties, checked against a small reference model of balances.

Random batches of operations (settle, certify, void, reserve, post, void-hold, reverse,
expire, bonus, replay) run against the ``Ledger`` and against ``Reference``, which knows
nothing of the ledger's code: account ids are written out here, and its rules are the
ones docs/ledger.md states. After every batch the two must agree on what was refused and
on every balance, and the ledger's invariants must hold.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from points_engine.errors import EngineError, InvariantViolation
from points_engine.ledger import (
    Account,
    ConflictingTransaction,
    InsufficientBalance,
    Ledger,
    PendingAlreadyResolved,
    Posting,
    Transaction,
    UnknownOrigin,
    bonus_tx,
    certify_tx,
    check_transaction,
    expire_tx,
    reverse_tx,
    settle_tx,
    spend_post_tx,
    spend_reserve_tx,
    spend_void_tx,
    void_tx,
)
from points_engine.ledger.transactions import is_key
from points_engine.regions import Book

BOOKS = ("shantou", "nanao")
CITIZENS = ("c_1", "c_2")
MERCHANTS = ("m_1", "m_2")
Op: TypeAlias = tuple[Any, ...]


# The reference model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One transaction as the model sees it: which cause, from which account to which, how much."""

    key: tuple[str, ...]  # the model's identity of the cause (same key: same transaction)
    debit: str
    credit: str
    points: int
    resolves: bool = False  # posts or voids the pending points of its origin
    origin: Step | None = field(default=None, compare=False)  # the step a follow-up was built from


def citizen_of(step: Step) -> str:
    account = step.credit if step.credit.startswith("citizen:") else step.debit
    return account.split(":")[1]


def follow_up(name: str, origin: Step, merchant: str = "") -> Step:
    """A follow-up takes back exactly what its origin credited; all but a reverse resolve it."""
    available = f"citizen:{citizen_of(origin)}:available"
    voided = origin.debit if origin.key[0] == "bonus" else "void:" + origin.debit.split(":")[1]
    credit = {"void": voided, "post": f"merchant:{merchant}"}.get(name, available)
    return Step((name, *origin.key), origin.credit, credit, origin.points, name != "reverse", origin)


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Reference:
    balances: Counter[str] = field(default_factory=Counter)
    applied: dict[tuple[str, ...], Step] = field(default_factory=dict)
    resolved: set[tuple[str, ...]] = field(default_factory=set)

    def apply(self, step: Step) -> bool:
        known = self.applied.get(step.key)
        if known is not None:
            if known != step:
                raise Refused("conflict")
            return False
        if step.origin is not None:
            origin = self.applied.get(step.origin.key)
            if origin is None:
                raise Refused("unknown-origin")
            # Built from another origin of the same cause: fine if it is the same move.
            if follow_up(step.key[0], origin, step.credit.removeprefix("merchant:")) != step:
                raise Refused("mismatch")
            if step.resolves and origin.key in self.resolved:
                raise Refused("pending-resolved")
        may_go_negative = step.debit.startswith(("issuance:", "campaign:"))
        if not may_go_negative and self.balances[step.debit] < step.points:
            raise Refused("insufficient")
        self.balances[step.debit] -= step.points
        self.balances[step.credit] += step.points
        self.applied[step.key] = step
        if step.resolves and step.origin is not None:
            self.resolved.add(step.origin.key)
        return True

    def apply_batch(self, steps: list[Step]) -> tuple[bool, ...]:
        """All or nothing: on refusal this model is left as it was."""
        trial = copy.deepcopy(self)
        fresh = tuple(trial.apply(step) for step in steps)
        self.balances, self.applied, self.resolved = trial.balances, trial.applied, trial.resolved
        return fresh


REASONS: dict[type[EngineError], str] = {
    ConflictingTransaction: "conflict",
    UnknownOrigin: "unknown-origin",
    InvariantViolation: "mismatch",
    PendingAlreadyResolved: "pending-resolved",
    InsufficientBalance: "insufficient",
}


# Turning operations into (transaction, step) pairs ------------------------------------------------


@dataclass
class Driver:
    """Builds each operation's transaction with the builders, and its step by hand."""

    settled: list[tuple[Transaction, Step]] = field(default_factory=list)
    reserved: list[tuple[Transaction, Step]] = field(default_factory=list)
    posted: list[tuple[Transaction, Step]] = field(default_factory=list)
    built: list[tuple[Transaction, Step]] = field(default_factory=list)

    def build(self, op: Op) -> tuple[Transaction, Step] | None:
        built = self._build(op)
        if built is not None:
            tx, step = built
            # The builders' postings are the model's move, written out independently.
            assert [(str(p.account), p.amount) for p in tx.postings] == [
                (step.debit, -step.points),
                (step.credit, step.points),
            ]
            self.built.append(built)
        return built

    def _build(self, op: Op) -> tuple[Transaction, Step] | None:
        name, *args = op
        if name == "settle":
            book, citizen, key, n = args
            step = Step(("settle", key), f"issuance:{book}", f"citizen:{citizen}:pending", n)
            return self._keep(self.settled, settle_tx(book, citizen, key, n), step)
        if name == "bonus":
            citizen, key, n = args
            step = Step(("bonus", f"cp_1/{key}"), "campaign:cp_1", f"citizen:{citizen}:pending", n)
            return self._keep(self.settled, bonus_tx("cp_1", citizen, key, n, pending=True), step)
        if name == "reserve":
            citizen, key, n = args
            step = Step(("reserve", key), f"citizen:{citizen}:available", f"citizen:{citizen}:held", n)
            return self._keep(self.reserved, spend_reserve_tx(citizen, key, n), step)
        if name == "expire":
            book, citizen, key, n = args
            step = Step(("expire", citizen, key), f"citizen:{citizen}:available", f"expiry:{book}", n)
            return expire_tx(book, citizen, key, n), step
        if name == "replay":
            return self.built[-1 - args[0] % len(self.built)] if self.built else None
        return self._follow_up(name, *args)

    def _follow_up(self, name: str, index: int, merchant: str = "") -> tuple[Transaction, Step] | None:
        pool = {"certify": self.settled, "void": self.settled, "reverse": self.posted}.get(
            name, self.reserved
        )
        if not pool:
            return None
        origin_tx, origin = pool[-1 - index % len(pool)]  # 0: the latest, so chains grow deep
        tx = {
            "certify": lambda: certify_tx(origin_tx),
            "void": lambda: void_tx(origin_tx),
            "post": lambda: spend_post_tx(origin_tx, merchant),
            "void-hold": lambda: spend_void_tx(origin_tx),
            "reverse": lambda: reverse_tx(origin_tx),
        }[name]()
        step = follow_up(name, origin, merchant)
        if name == "post":
            return self._keep(self.posted, tx, step)
        return tx, step

    @staticmethod
    def _keep(pool: list[tuple[Transaction, Step]], tx: Transaction, step: Step) -> tuple[Transaction, Step]:
        pool.append((tx, step))
        return tx, step


# Strategies ----------------------------------------------------------------------------------------

big, small = st.integers(50, 400), st.integers(1, 50)  # settle big, spend small: spends often fit
index = st.integers(0, 6)  # counted back from the latest
citizens = st.sampled_from(CITIZENS)
books = st.sampled_from(BOOKS)
# Few keys, so that causes collide: replays and conflicts happen, not only fresh transactions.
event_keys = st.integers(0, 12).map(lambda i: f"p_bus/ev-{i}")
settle = st.tuples(st.just("settle"), books, citizens, event_keys, big)
certify = st.tuples(st.just("certify"), index)
reserve = st.tuples(st.just("reserve"), citizens, st.integers(0, 12).map(lambda i: f"r_{i}"), small)
post = st.tuples(st.just("post"), index, st.sampled_from(MERCHANTS))
operations = st.one_of(
    settle,
    settle,
    certify,
    certify,
    st.tuples(st.just("void"), index),
    st.tuples(st.just("bonus"), citizens, st.integers(0, 4).map(lambda i: f"g_{i}"), small),
    reserve,
    reserve,
    post,
    post,
    st.tuples(st.just("void-hold"), index),
    st.tuples(st.just("reverse"), index),
    st.tuples(st.just("expire"), books, citizens, st.integers(0, 3).map(lambda i: f"2024-{i:02}"), small),
    st.tuples(st.just("replay"), index),
)
# Mostly one operation per batch (a refused batch applies nothing), some batches of several.
batch = st.one_of(operations.map(lambda op: [op]), st.lists(operations, min_size=2, max_size=4))
batches = st.lists(batch, min_size=20, max_size=80)


# Properties ----------------------------------------------------------------------------------------


def nonzero(balances: dict[str, int] | Counter[str]) -> dict[str, int]:
    return {account: balance for account, balance in balances.items() if balance}


def observe(ledger: Ledger) -> dict[str, int]:
    return nonzero({str(account): balance for account, balance in ledger.balances().items()})


def assert_invariants(ledger: Ledger) -> None:
    balances = ledger.balances()
    assert sum(balances.values()) == 0
    for account, balance in balances.items():
        assert balance >= 0 or account.kind in ("issuance", "campaign"), (str(account), balance)
    for tx in ledger.journal:
        assert sum(p.amount for p in tx.postings) == 0
    sums: Counter[Account] = Counter()
    for tx in ledger.journal:
        for p in tx.postings:
            sums[p.account] += p.amount
    assert {a: b for a, b in sums.items() if b} == {a: b for a, b in balances.items() if b}
    ledger.check()


def run(ledger: Ledger, model: Reference, driver: Driver, batch: list[Op]) -> None:
    built = [pair for pair in (driver.build(op) for op in batch) if pair is not None]
    if not built:
        return
    txs, steps = [tx for tx, _ in built], [step for _, step in built]
    before, journal = ledger.balances(), ledger.journal
    try:
        expected: tuple[bool, ...] | str = model.apply_batch(steps)
    except Refused as refused:
        expected = refused.reason
    try:
        got: tuple[bool, ...] | str = ledger.apply_many(txs)
    except EngineError as error:
        got = REASONS[type(error)]
    assert got == expected, (batch, got, expected)
    event(f"outcome: {got if isinstance(got, str) else 'applied'}")
    if isinstance(got, str):
        assert ledger.balances() == before and ledger.journal == journal
    assert observe(ledger) == nonzero(model.balances)
    assert_invariants(ledger)


HAND_PICKED = [
    # certify, then void the same settle: the void is refused (pending already resolved).
    [[("settle", "nanao", "c_1", "p_bus/ev-1", 10), ("certify", 0)], [("void", 0)]],
    # post, then void-hold and reverse twice: one refusal, one refund.
    [
        [("settle", "shantou", "c_1", "p_bus/ev-1", 50), ("certify", 0), ("reserve", "c_1", "r_1", 30)],
        [("post", 0, "m_1")],
        [("void-hold", 0)],
        [("reverse", 0), ("reverse", 0)],
    ],
    # a reservation refused for lack of points, then posted: unknown origin.
    [[("reserve", "c_2", "r_1", 5)], [("post", 0, "m_2")]],
    # one event settled with two amounts: conflict, and a certify of the losing one is a mismatch.
    [
        [("settle", "shantou", "c_1", "p_bus/ev-1", 10)],
        [("settle", "shantou", "c_1", "p_bus/ev-1", 11)],
        [("certify", 0)],
    ],
    # Found by hypothesis: one event settled in two books, the second refused as a conflict; a
    # certify built from the refused one is the very same move, so it is applied (not a mismatch).
    [
        [("settle", "shantou", "c_1", "p_bus/ev-0", 1)],
        [("settle", "nanao", "c_1", "p_bus/ev-0", 1)],
        [("certify", 0)],
        [("certify", 0)],
    ],
    # a pending bonus voided back to its campaign, in the batch that granted it.
    [[("bonus", "c_3", "g_1", 7), ("void", 0), ("certify", 0)]],
]


@settings(max_examples=300, deadline=None)
@given(batches)
@example(HAND_PICKED[0])
@example(HAND_PICKED[1])
@example(HAND_PICKED[2])
@example(HAND_PICKED[3])
@example(HAND_PICKED[4])
@example(HAND_PICKED[5])
def test_the_ledger_agrees_with_the_reference_model_and_keeps_its_invariants(
    batch_list: list[list[Op]],
) -> None:
    ledger, model, driver = Ledger(), Reference(), Driver()
    for batch in batch_list:
        run(ledger, model, driver, batch)


@settings(max_examples=150, deadline=None)
@given(batches)
def test_applying_the_same_sequence_twice_changes_nothing_the_second_time(batch_list: list[list[Op]]) -> None:
    ledger, driver = Ledger(), Driver()
    for batch in batch_list:
        built = [pair for pair in (driver.build(op) for op in batch) if pair is not None]
        with contextlib.suppress(
            EngineError
        ):  # refused batches are part of the sequence; they change nothing
            ledger.apply_many([tx for tx, _ in built])
    balances, journal = ledger.balances(), ledger.journal
    assert ledger.apply_many(journal) == (False,) * len(journal)
    for tx in journal:
        assert ledger.apply(tx) is False
    assert ledger.balances() == balances and ledger.journal == journal
    # And the journal alone rebuilds the same balances on an empty ledger.
    fresh = Ledger()
    fresh.apply_many(journal)
    assert fresh.balances() == balances
    fresh.check()


# Each kind's legal move (docs/ledger.md), so that near-valid transactions are generated often.
LEGAL_MOVES = [
    ("settle", Account.issuance("nanao"), Account.pending("c_1"), "ev-1"),
    ("certify", Account.pending("c_1"), Account.available("c_1"), "tx_" + "a" * 32),
    ("spend-post", Account.held("c_1"), Account.merchant("m_1"), "tx_" + "a" * 32),
    ("expire", Account.available("c_1"), Account.expiry("shantou"), "c_1/2024-01"),
    ("bonus", Account.campaign("cp_1"), Account.available("c_1"), "cp_1/g_1"),
]
accounts = st.sampled_from([account for move in LEGAL_MOVES for account in move[1:3]] + [Account.held("c_2")])
kinds = st.sampled_from([move[0] for move in LEGAL_MOVES])
causes = st.sampled_from([move[3] for move in LEGAL_MOVES])
any_postings = st.lists(st.tuples(accounts, st.integers(-5, 5)), max_size=4)


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[str, list[tuple[Account, int]], str]:
    """A legal move, with some of: an amount off by one, sides swapped, an extra posting."""
    kind, debit, credit, cause = draw(st.sampled_from(LEGAL_MOVES))
    n = draw(st.integers(1, 5))
    postings = [(debit, -n), (credit, n + draw(st.sampled_from([0, 0, 1, -1, -n])))]
    if draw(st.booleans()):
        postings = [(credit, -n), (debit, n)]
    if draw(st.integers(0, 4)) == 0:
        postings.append((draw(accounts), draw(st.integers(-2, 2))))
    return kind, postings, cause


@settings(max_examples=500, deadline=None)
@given(st.one_of(near_valid(), st.tuples(kinds, any_postings, causes)))
@example(("settle", [(Account.issuance("nanao"), -3), (Account.pending("c_1"), 4)], "ev-1"))
@example(("settle", [(Account.issuance("nanao"), -3), (Account.pending("c_1"), 3)], "ev-1"))
def test_a_transaction_is_either_balanced_and_well_formed_or_refused(
    case: tuple[Any, list[tuple[Account, int]], str],
) -> None:
    kind, postings, cause = case
    try:
        tx = Transaction.of(kind, cause, [Posting(account, amount) for account, amount in postings])
    except InvariantViolation:
        return
    assert sum(p.amount for p in tx.postings) == 0
    assert len(tx.postings) == 2 and all(p.amount != 0 for p in tx.postings)
    assert len({p.account for p in tx.postings}) == 2
    assert tx.debit.amount < 0 < tx.credit.amount


owner_ids = st.text(alphabet="abcXYZ019._-", min_size=1, max_size=64)
keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=256)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BOOKS), owner_ids, keys.filter(is_key), st.integers(1, 10**12))
def test_a_settle_built_without_the_second_check_equals_the_checked_transaction(
    book: Book, citizen: str, key: str, points: int
) -> None:
    """``settle_tx`` skips ``check_transaction`` (it runs once per settled action): what it builds
    must be exactly the transaction the checked constructor makes of the same move, and keep every
    invariant."""
    built = settle_tx(book, citizen, key, points)
    checked = Transaction.of(
        "settle", key, [Posting(Account.issuance(book), -points), Posting(Account.pending(citizen), points)]
    )
    assert built == checked and built.tx_id == checked.tx_id
    check_transaction(built)
    assert (str(built.debit.account), str(built.credit.account)) == (
        f"issuance:{book}",
        f"citizen:{citizen}:pending",
    )
