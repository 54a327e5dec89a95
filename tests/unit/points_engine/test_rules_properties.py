"""Properties of the rules over random histories of one citizen: caps hold, trips never overlap,
decisions are deterministic, and the state round-trips and can be rebuilt from settled outcomes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from points_engine.actions import (
    MATERIALS,
    MEALS,
    TRIP_MODES,
    WASTE_CATEGORIES,
    Action,
    ActionBody,
    ActionType,
    CleanPlate,
    Trip,
    WasteSorting,
)
from points_engine.methodologies import Assessment, assess, default_catalog
from points_engine.rules import CitizenState, Outcome, Policy, decide, decide_many, local_day, rebuild
from points_engine.rules.compact import pack, unpack

POLICY = Policy.default()
CATALOG = default_catalog()
MIDNIGHT = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)  # 2026-11-20 00:00 in Shantou
EXAMPLES = settings(max_examples=150, deadline=None)
SLOT_S = 300  # coarse start times, so that trips collide often
KIND: dict[type, ActionType] = {Trip: "trip", WasteSorting: "waste_sorting", CleanPlate: "clean_plate"}

any_trips = st.builds(
    Trip,
    mode=st.sampled_from(TRIP_MODES),
    distance_m=st.integers(1, 160_000),
    duration_s=st.integers(1, 7_200),
)


@st.composite
def plausible_trips(draw: Any) -> Trip:
    """A trip within its mode's limits, a few distances recurring (to reach the repetition flag)."""
    mode = draw(st.sampled_from(TRIP_MODES))
    duration_s = draw(st.sampled_from([60, 600, 1_800]) | st.integers(60, 3_600))
    top = min(POLICY.max_distance_km[mode] * 1000, POLICY.max_speed_kmh[mode] * 1000 * duration_s // 3600)
    distance_m = draw(st.sampled_from([min(top, 800), min(top, 2_000)]) | st.integers(1, top))
    return Trip(mode=mode, distance_m=distance_m, duration_s=duration_s)


trips = st.one_of(plausible_trips(), plausible_trips(), any_trips)
waste = st.one_of(
    st.builds(
        WasteSorting,
        category=st.sampled_from(WASTE_CATEGORIES).filter(lambda c: c != "recyclable"),
        weight_g=st.one_of(st.sampled_from([500, 1_500, 20_000]), st.integers(1, 30_000)),
        station_id=st.just("s1"),
    ),
    st.builds(
        WasteSorting,
        category=st.just("recyclable"),
        weight_g=st.integers(1, 30_000),
        station_id=st.just("s1"),
        material=st.none() | st.sampled_from(MATERIALS),
    ),
)
meals = st.builds(
    CleanPlate, canteen_id=st.just("k1"), meal=st.sampled_from(MEALS), verified_by=st.just("staff")
)


@st.composite
def histories(draw: Any) -> list[tuple[Action, Assessment]]:
    """One citizen's actions in settlement order (not time order), over 1, 3 or 12 local days."""
    days = draw(st.sampled_from([1, 1, 3, 12]))
    busy = draw(st.sampled_from([0, 0, 30]))  # a busy history reaches the count caps
    rate = draw(st.sampled_from([(1, 1), (1, 2), (3, 2)]))  # points per gram, as a book might set it
    items = []
    for i, data in enumerate(
        draw(st.lists(st.one_of(trips, trips, waste, meals), min_size=busy, max_size=80))
    ):
        at = MIDNIGHT + timedelta(seconds=SLOT_S * draw(st.integers(0, days * 86_400 // SLOT_S - 1)))
        region = draw(st.sampled_from(["440507", "440523"]))
        body = ActionBody(type=KIND[type(data)], occurred_at=at, region=region, data=data)
        action = Action(
            partner_id=draw(st.sampled_from(["p_a", "p_b"])), event_id=f"e{i}", user="u1", body=body
        )
        priced = assess(body, CATALOG)
        points = priced.reduction_g * rate[0] // rate[1]
        items.append(
            (
                action,
                Assessment(
                    priced.methodology, priced.version, priced.key, priced.reduction_g, points, priced.book
                ),
            )
        )
    return items


def settle(history: list[tuple[Action, Assessment]]) -> tuple[tuple[Outcome, ...], CitizenState]:
    return decide_many(history, CitizenState(), POLICY)


def span(action: Action) -> tuple[datetime, datetime]:
    assert isinstance(action.data, Trip)
    return action.occurred_at, action.occurred_at + timedelta(seconds=action.data.duration_s)


@EXAMPLES
@given(histories())
def test_credit_is_within_the_assessment_and_never_negative(history: list[tuple[Action, Assessment]]) -> None:
    outcomes, _ = settle(history)
    for (_, assessment), outcome in zip(history, outcomes, strict=True):
        assert 0 <= outcome.reduction_g <= assessment.reduction_g
        assert 0 <= outcome.points <= assessment.points
        assert (outcome.methodology, outcome.book) == (assessment.methodology, assessment.book)
        if outcome.status == "rejected":
            assert (outcome.reduction_g, outcome.points, len(outcome.reasons)) == (0, 0, 1)
        elif outcome.reduction_g < assessment.reduction_g:
            assert outcome.status == "capped"
            assert outcome.points == outcome.reduction_g * assessment.points // assessment.reduction_g
        assert outcome.flagged == ("repetition-review" in outcome.reasons)


@EXAMPLES
@given(histories())
def test_daily_caps_hold_on_every_local_day(history: list[tuple[Action, Assessment]]) -> None:
    outcomes, _ = settle(history)
    reduction: dict[date, int] = defaultdict(int)
    trips_credited: dict[date, int] = defaultdict(int)
    meals_credited: dict[tuple[date, str], int] = defaultdict(int)
    for (action, _), outcome in zip(history, outcomes, strict=True):
        day = local_day(action.occurred_at)
        reduction[day] += outcome.reduction_g
        took_slot = outcome.status != "rejected" and not {
            "cap-daily-trips",
            "cap-meals",
            "cap-meal-kind",
        } & set(outcome.reasons)
        if isinstance(action.data, Trip) and took_slot:
            trips_credited[day] += 1
        if isinstance(action.data, CleanPlate) and took_slot:
            meals_credited[day, action.data.meal] += 1
            meals_credited[day, "all"] += 1
    assert all(grams <= 5_000 for grams in reduction.values())
    assert all(n <= 12 for n in trips_credited.values())
    assert all(n <= (3 if kind == "all" else 1) for (_, kind), n in meals_credited.items())


@EXAMPLES
@given(histories())
def test_no_two_settled_trips_of_a_citizen_overlap(history: list[tuple[Action, Assessment]]) -> None:
    outcomes, _ = settle(history)
    settled = [
        span(a)
        for (a, _), o in zip(history, outcomes, strict=True)
        if isinstance(a.data, Trip) and o.status != "rejected"
    ]
    for (start_a, end_a), (start_b, end_b) in combinations(settled, 2):
        assert end_a <= start_b or end_b <= start_a


@EXAMPLES
@given(histories())
def test_state_holds_what_was_credited_and_round_trips_through_json_and_packed(
    history: list[tuple[Action, Assessment]],
) -> None:
    state = CitizenState()
    credited: dict[date, int] = defaultdict(int)
    for action, assessment in history:
        outcome, after = decide(action, assessment, state, POLICY)
        if outcome.status == "rejected":
            assert after is state
        credited[local_day(action.occurred_at)] += outcome.reduction_g
        state = after
        assert CitizenState.from_json(json.loads(json.dumps(state.to_json()))) == state
        assert unpack(pack(state)) == state
        assert all(day.waste_g <= 20_000 for day in state.days)
    for day in state.days:  # pruning drops whole days, so a kept day is complete
        assert day.reduction_g == credited[day.day]


@EXAMPLES
@given(histories())
def test_rebuild_from_settled_outcomes_equals_the_decided_state(
    history: list[tuple[Action, Assessment]],
) -> None:
    outcomes, state = settle(history)
    pairs = [(action, outcome) for (action, _), outcome in zip(history, outcomes, strict=True)]
    assert rebuild(pairs, POLICY) == state
    assert rebuild([(a, o) for a, o in pairs if o.status != "rejected"], POLICY) == state


@EXAMPLES
@given(histories(), st.integers(0, 60))
def test_deciding_is_deterministic_and_batches_can_be_split(
    history: list[tuple[Action, Assessment]], cut: int
) -> None:
    outcomes, state = settle(history)
    assert settle(history) == (outcomes, state)
    first, middle = decide_many(history[:cut], CitizenState(), POLICY)
    rest, end = decide_many(history[cut:], middle, POLICY)
    assert (first + rest, end) == (outcomes, state)


@EXAMPLES
@given(histories())
def test_rejected_actions_change_no_other_decision(history: list[tuple[Action, Assessment]]) -> None:
    outcomes, state = settle(history)
    kept = [item for item, outcome in zip(history, outcomes, strict=True) if outcome.status != "rejected"]
    assert settle(kept) == (tuple(o for o in outcomes if o.status != "rejected"), state)
