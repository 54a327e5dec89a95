"""Settlement as hypothesis properties over random streams of accepted actions.

What the workers rely on: one outcome per action; postings that balance and never overdraw a
citizen; the same stream always settling the same way, however it is cut into batches, whether the
rules state travels through its JSON form (Redis) or is rebuilt from the settled history (a lost
Redis), and whether a batch is settled again after a crash (its transactions are replays).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from points_engine.actions import Action, ActionBody, CleanPlate, Trip, WasteSorting
from points_engine.ledger import Ledger
from points_engine.methodologies import default_catalog
from points_engine.records import Accepted, from_record, to_record
from points_engine.rules import CitizenState, Policy
from points_engine.settlement import Settlement, replay, settle

CATALOG = default_catalog()
POLICY = Policy.default()
START = datetime(2026, 11, 20, tzinfo=UTC)

trips = st.builds(
    Trip,
    mode=st.sampled_from(("bus", "metro", "bike", "walk", "ev_car")),
    distance_m=st.sampled_from((900, 2400, 5200, 15_000, 160_000)),
    duration_s=st.sampled_from((45, 300, 1500, 3600)),
)
waste = st.builds(
    WasteSorting,
    category=st.sampled_from(("recyclable", "kitchen", "hazardous", "other")),
    weight_g=st.sampled_from((300, 1200, 8000, 15_000)),
    station_id=st.just("st_1"),
    material=st.sampled_from((None, "paper", "metal")),
)
meals = st.builds(
    CleanPlate,
    canteen_id=st.just("cn_1"),
    meal=st.sampled_from(("breakfast", "lunch", "dinner")),
    verified_by=st.just("staff"),
)
TYPES = {Trip: "trip", WasteSorting: "waste_sorting", CleanPlate: "clean_plate"}


@st.composite
def streams(draw: st.DrawFn) -> list[Accepted]:
    """Up to 60 actions of up to 3 citizens within 10 days (older than the retention, sometimes):
    overlaps, caps, repetition and beyond-retention all occur."""
    size = draw(st.integers(1, 60))
    items = []
    for n in range(size):
        data = draw(st.one_of(trips, waste, meals))
        at = START + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
        region = draw(st.sampled_from(("440507", "440523")))
        citizen = draw(st.sampled_from(("c_a", "c_b", "c_c")))
        body = ActionBody(TYPES[type(data)], at, region, data)  # type: ignore[arg-type]
        items.append(Accepted(citizen, Action("p_1", f"e{n}", f"u_{citizen}", body)))
    return items


def cuts(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=5).map(sorted)


def in_batches(items: list[Accepted], at: list[int], via_json: bool) -> list[Settlement]:
    """Settle ``items`` batch after batch, carrying the states as a worker does (through Redis)."""
    states: dict[str, CitizenState] = {}
    settled: list[Settlement] = []
    for lo, hi in zip([0, *at], [*at, len(items)], strict=True):
        batch, new_states = settle(items[lo:hi], states, CATALOG, POLICY)
        settled.extend(batch)
        if via_json:
            new_states = {c: CitizenState.from_json(s.to_json()) for c, s in new_states.items()}
        states.update(new_states)
    return settled


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_action_gets_exactly_one_outcome_and_balanced_postings(items):
    settled, _ = settle(items, {}, CATALOG, POLICY)
    assert [s.accepted for s in settled] == items
    ledger = Ledger()
    ledger.apply_many(s.transaction for s in settled if s.transaction is not None)
    ledger.check()
    balances = ledger.balances()
    assert sum(balances.values()) == 0
    assert all(b >= 0 for a, b in balances.items() if a.citizen_id is not None)
    for s in settled:
        tx = s.transaction
        assert (tx is None) == (s.outcome.points == 0)
        if tx is not None:
            assert sum(p.amount for p in tx.postings) == 0 and tx.amount == s.outcome.points
            assert tx.credit.account.citizen_id == s.accepted.citizen_id
    pending = sum(b for a, b in balances.items() if a.kind == "citizen-pending")
    assert pending == sum(s.outcome.points for s in settled)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_same_stream_settles_the_same_however_it_is_batched(data):
    items = data.draw(streams())
    whole, _ = settle(items, {}, CATALOG, POLICY)
    batched = in_batches(items, data.draw(cuts(len(items))), via_json=data.draw(st.booleans()))
    assert [s.outcome for s in batched] == [s.outcome for s in whole]
    assert [s.transaction for s in batched] == [s.transaction for s in whole]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_states_rebuilt_from_settled_history_decide_the_rest_identically(data):
    """A lost Redis: the states come back from the outcomes in the database."""
    items = data.draw(streams())
    cut = data.draw(st.integers(0, len(items)))
    first, states = settle(items[:cut], {}, CATALOG, POLICY)
    rebuilt = {
        citizen: replay(((s.accepted, s.outcome) for s in first if s.accepted.citizen_id == citizen), POLICY)
        for citizen in states
    }
    rest_carried, _ = settle(items[cut:], states, CATALOG, POLICY)
    rest_rebuilt, _ = settle(items[cut:], rebuilt, CATALOG, POLICY)
    assert [s.outcome for s in rest_rebuilt] == [s.outcome for s in rest_carried]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_batch_settled_again_after_a_crash_books_nothing_twice(data):
    """A crash after commit: the worker that takes over settles the batch again from the rebuilt
    state; its outcomes equal the committed ones and its transactions are replays."""
    items = data.draw(streams())
    cut = data.draw(st.integers(0, len(items)))
    before, states = settle(items[:cut], {}, CATALOG, POLICY)
    batch, _ = settle(items[cut:], states, CATALOG, POLICY)
    ledger = Ledger()
    fresh = ledger.apply_many(s.transaction for s in before + batch if s.transaction is not None)
    assert all(fresh)
    history = before + batch
    rebuilt = {
        c: replay(((s.accepted, s.outcome) for s in before if s.accepted.citizen_id == c), POLICY)
        for c in {i.citizen_id for i in items}
    }
    again, _ = settle(items[cut:], rebuilt, CATALOG, POLICY)
    assert [s.outcome for s in again] == [s.outcome for s in batch]
    replays = ledger.apply_many(s.transaction for s in again if s.transaction is not None)
    assert not any(replays)
    assert sum(ledger.balances().values()) == 0 and len(ledger.journal) == sum(
        1 for s in history if s.transaction is not None
    )


@given(streams())
def test_records_on_the_stream_carry_the_action_unchanged(items):
    assert [from_record(to_record(i)) for i in items] == items


def test_an_action_before_every_methodology_version_is_rejected_and_books_nothing():
    first = CATALOG.versions[0].effective_from
    body = ActionBody("trip", first - timedelta(seconds=1), "440523", Trip("bus", 5200, 1380))
    item = Accepted("c_a", Action("p_1", "e_old", "u_a", body))
    (settled,), states = settle([item], {}, CATALOG, POLICY)
    assert (settled.outcome.status, settled.outcome.reasons) == ("rejected", ("no-methodology",))
    assert (settled.outcome.methodology, settled.outcome.book) == ("trip.bus", "nanao")
    assert settled.transaction is None and states["c_a"] == CitizenState()
