"""Expiry of available points: the FIFO rule as hypothesis properties against a reference model
written here from docs/expiry.md, and the dates, keys and ledger kinds as examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from points_engine.errors import InvariantViolation
from points_engine.expiry import (
    Expiring,
    Movement,
    expire_txs,
    expires_at,
    movement_of,
    outlook,
)
from points_engine.ledger import Account, tx_id_for

T0 = datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
BOOKS = ("shantou", "nanao")
FOREVER = 365 * 300  # a horizon past every lot
AVAILABLE = "citizen:c_1:available"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


# The reference model ---------------------------------------------------------------------------


@dataclass
class Reference:
    """Lots in arrival order; a stack of what spends took (lot index, points), newest on top."""

    months: int
    lots: list[list] = field(default_factory=list)  # [arrived, book, points left]
    taken: list[list[int]] = field(default_factory=list)
    expired: dict[str, int] = field(default_factory=dict)

    def arrive(self, t: datetime, points: int, book: str) -> None:
        self.lots.append([t, book, points])

    def spend(self, points: int) -> None:
        for i, lot in enumerate(self.lots):
            n = min(lot[2], points)
            if n:
                lot[2] -= n
                points -= n
                self.taken.append([i, n])
        assert points == 0

    def give_back(self, t: datetime, points: int) -> None:
        fresh = []
        while points:
            i, n = self.taken[-1]
            back = min(n, points)
            self.taken[-1][1] -= back
            if self.taken[-1][1] == 0:
                self.taken.pop()
            points -= back
            arrived, book, _ = self.lots[i]
            if expires_at(arrived, self.months) <= t:
                fresh.append([t, book, back])
            else:
                self.lots[i][2] += back
        self.lots.extend(reversed(fresh))

    def sweep(self, t: datetime) -> dict[str, int]:
        due: dict[str, int] = {}
        for lot in self.lots:
            if lot[2] and expires_at(lot[0], self.months) <= t:
                due[lot[1]] = due.get(lot[1], 0) + lot[2]
                lot[2] = 0
        for book, n in due.items():
            self.expired[book] = self.expired.get(book, 0) + n
        return due

    @property
    def balance(self) -> int:
        return sum(lot[2] for lot in self.lots)


# Histories ---------------------------------------------------------------------------------------

# ("arrive", gap_h, points, book) | ("spend", gap_h, share) | ("return", gap_h, pick) | ("sweep", gap_h)
Op = tuple

gaps = st.integers(min_value=0, max_value=24 * 200)
# Spends and returns at one instant count as their net (a batch has no order): the model here is
# sequential, so they come at least an hour after anything else (the netting has its own tests).
later = st.integers(min_value=1, max_value=24 * 200)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("arrive"), gaps, st.integers(1, 1_000), st.sampled_from(BOOKS)),
        st.tuples(st.just("spend"), later, st.floats(0.01, 1.0)),
        st.tuples(st.just("return"), later, st.integers(0, 50)),
        st.tuples(st.just("sweep"), gaps),
    ),
    max_size=40,
)


@dataclass
class Run:
    """A history built op by op as a ledger could book it, with the engine's sweeps in it."""

    months: int
    history: list[Movement] = field(default_factory=list)
    open_spends: list[int] = field(default_factory=list)
    now: datetime = T0

    def __post_init__(self) -> None:
        self.ref = Reference(self.months)

    def apply(self, op: Op) -> None:
        self.now += timedelta(hours=op[1])
        if op[0] == "arrive":
            self.history.append(Movement("arrival", self.now, op[2], op[3]))
            self.ref.arrive(self.now, op[2], op[3])
        elif op[0] == "spend" and self.ref.balance:
            points = max(1, int(self.ref.balance * op[2]))
            self.history.append(Movement("spend", self.now, points))
            self.ref.spend(points)
            self.open_spends.append(points)
        elif op[0] == "return" and self.open_spends:
            points = self.open_spends.pop(op[2] % len(self.open_spends))
            self.history.append(Movement("return", self.now, points))
            self.ref.give_back(self.now, points)
        elif op[0] == "sweep":
            self.sweep()

    def sweep(self) -> dict[str, int]:
        """What the engine says is due, checked against the model, and booked as expiries."""
        view = outlook(self.history, self.now, self.months)
        balance_before = self.ref.balance
        assert dict(view.due) == self.ref.sweep(self.now)
        assert sum(view.due.values()) <= balance_before
        self.history += [Movement("expiry", self.now, n, b) for b, n in view.due.items()]
        return dict(view.due)


histories = st.tuples(st.integers(1, 24), ops)


@settings(max_examples=300, deadline=None)
@given(histories)
@example((1, [("arrive", 0, 100, "nanao"), ("spend", 1, 0.5), ("sweep", 24 * 40), ("return", 1, 0)]))
@example(
    (
        1,
        [
            ("arrive", 0, 10, "shantou"),
            ("arrive", 1, 10, "nanao"),
            ("spend", 1, 1.0),
            ("sweep", 24 * 45),
            ("return", 1, 0),
            ("sweep", 24 * 45),
        ],
    )
)
def test_sweeps_expire_exactly_what_the_fifo_model_says_and_never_more_than_was_there(case):
    months, steps = case
    run = Run(months)
    arrived = 0
    for op in steps:
        run.apply(op)
        arrived += op[2] if op[0] == "arrive" else 0
        # then: nothing expired beyond what arrived, and the lots hold exactly the balance
        assert sum(run.ref.expired.values()) <= arrived
        whole = outlook(run.history, run.now, months, days=FOREVER)
        assert sum(e.points for e in whole.expiring) == run.ref.balance
    run.sweep()


@settings(max_examples=200, deadline=None)
@given(histories, st.integers(0, 24 * 800))
def test_a_second_sweep_at_the_same_moment_expires_nothing_more(case, later_h):
    months, steps = case
    run = Run(months)
    for op in steps:
        run.apply(op)
    run.now += timedelta(hours=later_h)
    before = outlook(run.history, run.now, months)
    run.sweep()
    after = outlook(run.history, run.now, months)
    assert dict(after.due) == {}
    assert after.expiring == before.upcoming(run.now)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 24),
    st.lists(st.tuples(st.integers(0, 24 * 60), st.integers(1, 500)), min_size=1, max_size=20),
    st.integers(0, 10_000),
)
def test_spending_takes_the_oldest_points_so_the_newest_survive(months, arrivals, spend):
    # given: lots arriving one after another, then one spend of part of them
    history, t = [], T0
    for gap, points in arrivals:
        t += timedelta(hours=gap)
        history.append(Movement("arrival", t, points, "shantou"))
    total = sum(p for _, p in arrivals)
    spend = min(spend, total)
    if spend:
        history.append(Movement("spend", t, spend))
    # then: what is left is the newest `total - spend` points, each on its lot's expiry date
    left, expected = total - spend, {}
    for m in reversed(history[: len(arrivals)]):
        n = min(m.points, left)
        left -= n
        if n:
            on = expires_at(m.at, months).astimezone(UTC) + timedelta(hours=8)
            expected[on.date()] = expected.get(on.date(), 0) + n
    whole = outlook(history, t, months, days=FOREVER)
    assert whole.expiring == tuple(Expiring(d, n) for d, n in sorted(expected.items()))


# Examples ----------------------------------------------------------------------------------------


class TestExpiryDate:
    @pytest.mark.parametrize(
        ("arrived", "months", "expires"),
        [
            # 2026-11-03 10:00 in Shanghai: valid through 2028-11-03, gone at 2028-11-04 00:00 there
            (datetime(2026, 11, 3, 2, 0, tzinfo=UTC), 24, datetime(2028, 11, 3, 16, 0, tzinfo=UTC)),
            # 2026-10-31 17:00 UTC is already 1 November in Shanghai
            (datetime(2026, 10, 31, 17, 0, tzinfo=UTC), 24, datetime(2028, 11, 1, 16, 0, tzinfo=UTC)),
            (datetime(2026, 10, 31, 15, 0, tzinfo=UTC), 24, datetime(2028, 10, 31, 16, 0, tzinfo=UTC)),
            # 31 January + 1 month: the last day of February, then gone on 1 March
            (datetime(2027, 1, 31, 4, 0, tzinfo=UTC), 1, datetime(2027, 2, 28, 16, 0, tzinfo=UTC)),
            (datetime(2028, 2, 29, 4, 0, tzinfo=UTC), 12, datetime(2029, 2, 28, 16, 0, tzinfo=UTC)),
        ],
    )
    def test_points_expire_at_the_start_of_the_shanghai_day_after_their_validity(
        self, arrived, months, expires
    ):
        assert expires_at(arrived, months) == expires


class TestOutlook:
    def test_points_are_spendable_to_the_end_of_their_last_day(self):
        lot = Movement("arrival", datetime(2026, 11, 3, 2, 0, tzinfo=UTC), 100, "nanao")
        last_second = datetime(2028, 11, 3, 15, 59, 59, tzinfo=UTC)
        assert dict(outlook([lot], last_second, 24).due) == {}
        assert dict(outlook([lot], last_second + timedelta(seconds=1), 24).due) == {"nanao": 100}

    def test_the_outlook_lists_what_expires_within_the_horizon_by_date(self):
        history = [
            Movement("arrival", at(0), 100, "shantou"),
            Movement("arrival", at(10), 50, "nanao"),
            Movement("arrival", at(40), 30, "shantou"),
            Movement("spend", at(41), 60),
        ]
        view = outlook(history, at(732), 24, days=30)  # 2026-01-02: the first lot is gone, the second soon
        assert dict(view.due) == {"shantou": 40}
        assert view.expiring == (Expiring(date(2026, 1, 2), 40), Expiring(date(2026, 1, 12), 50))
        assert view.upcoming(at(732)) == (Expiring(date(2026, 1, 12), 50),)

    def test_a_cancelled_reservation_gives_its_points_back_to_their_lot(self):
        history = [
            Movement("arrival", at(0), 100, "shantou"),
            Movement("arrival", at(100), 100, "shantou"),
            Movement("spend", at(200), 150),
            Movement("return", at(201), 150),
        ]
        view = outlook(history, at(1000), 24, days=FOREVER)
        assert dict(view.due) == {"shantou": 200}  # no validity gained by reserving and cancelling

    def test_a_refund_after_its_lot_expired_arrives_as_a_fresh_lot(self):
        # given: 100 points, 60 spent, the other 40 expired, then the 60 refunded
        history = [
            Movement("arrival", at(0), 100, "nanao"),
            Movement("spend", at(700), 60),
            Movement("expiry", at(740), 40, "nanao"),
            Movement("return", at(750), 60),
        ]
        # then: the 40 stay expired, and the 60 are valid for 24 months from the refund
        assert dict(outlook(history, at(751), 24).due) == {}
        fresh = expires_at(at(750), 24)
        assert outlook(history, at(751), 24, days=FOREVER).expiring == (
            Expiring((fresh + timedelta(hours=8)).date(), 60),
        )
        assert dict(outlook(history, fresh, 24).due) == {"nanao": 60}

    def test_a_refund_goes_back_to_the_newest_points_taken_first(self):
        history = [
            Movement("arrival", at(0), 100, "shantou"),
            Movement("arrival", at(500), 100, "nanao"),
            Movement("spend", at(600), 150),  # all of the first lot, half of the second
            Movement("return", at(800), 50),  # after the first lot's end: the second's half back
        ]
        view = outlook(history, at(800), 24, days=FOREVER)
        assert dict(view.due) == {}
        assert sum(e.points for e in view.expiring) == 100
        assert dict(outlook(history, expires_at(at(500), 24), 24).due) == {"nanao": 100}

    def test_spends_and_returns_booked_at_one_instant_count_as_their_net(self):
        # a batch has no order: reserve, cancel and reserve again at one instant is one reservation
        history = [
            Movement("arrival", at(0), 1, "shantou"),
            Movement("spend", at(0), 1),
            Movement("return", at(0), 1),
            Movement("spend", at(0), 1),
        ]
        assert outlook(history, at(0), 24, days=FOREVER).expiring == ()
        history += [Movement("return", at(5), 1), Movement("spend", at(6), 1), Movement("return", at(6), 1)]
        view = outlook(history, at(1000), 24)
        assert dict(view.due) == {"shantou": 1}

    @pytest.mark.parametrize(
        "history",
        [
            [Movement("spend", at(1), 1)],
            [Movement("arrival", at(0), 5, "shantou"), Movement("return", at(1), 1)],
            [Movement("arrival", at(0), 5, "shantou"), Movement("expiry", at(1), 5, "nanao")],
        ],
    )
    def test_a_history_no_ledger_could_book_is_a_bug(self, history):
        with pytest.raises(InvariantViolation):
            outlook(history, at(2), 24)

    def test_movements_need_a_book_exactly_when_they_arrive_or_expire(self):
        with pytest.raises(InvariantViolation):
            Movement("spend", at(0), 5, "shantou")
        with pytest.raises(InvariantViolation):
            Movement("arrival", at(0), 5)
        with pytest.raises(InvariantViolation):
            Movement("arrival", at(0), 0, "shantou")


class TestLedger:
    @pytest.mark.parametrize(
        ("kind", "cause", "credit", "origin", "expected"),
        [
            ("certify-run", "run_nanao_2026-11_000003/c_1", AVAILABLE, None, ("arrival", "nanao")),
            ("certify", "tx_" + "0" * 32, AVAILABLE, "issuance:nanao", ("arrival", "nanao")),
            ("certify", "tx_" + "0" * 32, AVAILABLE, "campaign:spring", ("arrival", "shantou")),
            ("bonus", "spring/g1", AVAILABLE, None, ("arrival", "shantou")),
            ("spend-reserve", "r_1", "citizen:c_1:held", None, ("spend", None)),
            ("spend-void", "tx_" + "0" * 32, AVAILABLE, None, ("return", None)),
            ("reverse", "tx_" + "0" * 32, AVAILABLE, None, ("return", None)),
            ("expire", "c_1/2028-11-04/nanao", "expiry:nanao", None, ("expiry", "nanao")),
        ],
    )
    def test_each_ledger_kind_on_the_available_account_is_a_movement(
        self, kind, cause, credit, origin, expected
    ):
        m = movement_of(kind, cause, credit, 7, at(0), origin)
        assert (m.kind, m.book, m.points, m.at) == (*expected, 7, at(0))

    @pytest.mark.parametrize(
        ("kind", "cause"),
        [("settle", "p/e"), ("certify-run", "run_paris_2026-11_000001/c_1"), ("certify", "tx_" + "0" * 32)],
    )
    def test_a_kind_or_cause_that_names_no_book_is_refused(self, kind, cause):
        with pytest.raises(InvariantViolation):
            movement_of(kind, cause, AVAILABLE, 7, at(0))

    def test_expiry_transactions_are_one_per_book_keyed_by_the_shanghai_day(self):
        # 2026-11-30 17:00 UTC is 1 December in Shanghai
        txs = expire_txs("c_1", {"nanao": 5, "shantou": 7}, datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
        assert [(str(t.credit.account), t.amount, t.cause) for t in txs] == [
            ("expiry:shantou", 7, "c_1/2026-12-01/shantou"),
            ("expiry:nanao", 5, "c_1/2026-12-01/nanao"),
        ]
        assert all(t.debit.account == Account.available("c_1") for t in txs)
        later = expire_txs("c_1", {"shantou": 7}, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
        assert later[0].tx_id == txs[0].tx_id == tx_id_for("expire", "c_1/2026-12-01/shantou")
