"""Anti-fraud rules: plausibility, overlap, daily caps, repetition, the state and its rebuild."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from points_engine.actions import (
    Action,
    ActionBody,
    ActionData,
    ActionType,
    CleanPlate,
    Meal,
    Trip,
    TripMode,
    WasteSorting,
)
from points_engine.methodologies import Assessment, assess, default_catalog
from points_engine.regions import Book
from points_engine.rules import (
    REASON_CODES,
    REASONS,
    CitizenState,
    InvalidPolicy,
    InvalidRulesState,
    Outcome,
    Policy,
    decide,
    decide_many,
    local_day,
    rebuild,
)

REPO = Path(__file__).resolve().parents[3]
POLICY = Policy.default()
CATALOG = default_catalog()
AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shantou
LONGHU, NANAO = "440507", "440523"
_seq = iter(range(1, 10**9))
KIND: dict[type, ActionType] = {Trip: "trip", WasteSorting: "waste_sorting", CleanPlate: "clean_plate"}


# --- builders -------------------------------------------------------------------------------------


def action(data: ActionData, at: datetime = AT, partner: str = "p_transit", region: str = LONGHU) -> Action:
    body = ActionBody(type=KIND[type(data)], occurred_at=at, region=region, data=data)
    return Action(partner_id=partner, event_id=f"e{next(_seq)}", user="u1", body=body)


def trip(mode: TripMode = "bus", distance_m: int = 5200, duration_s: int = 1380) -> Trip:
    return Trip(mode=mode, distance_m=distance_m, duration_s=duration_s)


def waste(weight_g: int, category: Any = "kitchen") -> WasteSorting:
    return WasteSorting(category=category, weight_g=weight_g, station_id="s1")


def meal(kind: Meal = "lunch") -> CleanPlate:
    return CleanPlate(canteen_id="k1", meal=kind, verified_by="staff")


def priced(act: Action) -> Assessment:
    return assess(act.body, CATALOG)


def grams(reduction_g: int, points: int | None = None, book: Book = "shantou") -> Assessment:
    """An assessment with exact grams, to put a cap boundary where a test wants it."""
    points = reduction_g if points is None else points
    return Assessment("waste.kitchen@2026.1", "2026.1", "waste.kitchen", reduction_g, points, book)


def run(
    items: list[tuple[Action, Assessment]] | list[Action],
    state: CitizenState | None = None,
    policy: Policy = POLICY,
) -> tuple[tuple[Outcome, ...], CitizenState]:
    pairs = [(i, priced(i)) if isinstance(i, Action) else i for i in items]
    return decide_many(pairs, state or CitizenState(), policy)


def one(item: Action | tuple[Action, Assessment], state: CitizenState, policy: Policy = POLICY) -> Outcome:
    act, assessment = (item, priced(item)) if isinstance(item, Action) else item
    return decide(act, assessment, state, policy)[0]


def trips_at(n: int, start: datetime = AT, every: timedelta = timedelta(minutes=30)) -> list[Action]:
    """``n`` plausible bus trips of 10 minutes, each of a different distance (no repetition flag)."""
    return [action(trip(distance_m=5000 + i, duration_s=600), at=start + i * every) for i in range(n)]


# --- policy ---------------------------------------------------------------------------------------


class TestPolicy:
    def test_default_policy_is_domain_md(self) -> None:
        assert dict(POLICY.max_speed_kmh) == {"walk": 8, "bike": 30, "bus": 80, "metro": 120, "ev_car": 150}
        assert dict(POLICY.max_distance_km) == {
            "walk": 20,
            "bike": 50,
            "bus": 100,
            "metro": 150,
            "ev_car": 300,
        }
        assert (POLICY.min_duration_s, POLICY.daily_trips, POLICY.daily_meals) == (60, 12, 3)
        assert (POLICY.daily_meals_per_kind, POLICY.daily_waste_g, POLICY.daily_reduction_g) == (
            1,
            20_000,
            5_000,
        )
        assert (POLICY.repetition_threshold, POLICY.retention_s, POLICY.version) == (4, 8 * 86_400, "2026.1")

    def test_policy_round_trips_through_json_text(self) -> None:
        text = json.dumps(POLICY.to_json())
        assert Policy.from_json(json.loads(text)) == POLICY

    @pytest.mark.parametrize(
        "change",
        [
            {"daily_trips": -1},
            {"daily_trips": True},
            {"daily_trips": 12.0},
            {"max_speed_kmh": {"walk": 8}},
            {"max_distance_km": {"walk": 0, "bike": 50, "bus": 100, "metro": 150, "ev_car": 300}},
            {"version": ""},
            {"surprise": 1},
            {"retention_s": 3600},
        ],
    )
    def test_malformed_policy_is_refused(self, change: dict[str, Any]) -> None:
        with pytest.raises(InvalidPolicy):
            Policy.from_json({**POLICY.to_json(), **change})


# --- plausibility ---------------------------------------------------------------------------------


class TestPlausibility:
    @pytest.mark.parametrize("mode", ["walk", "bike", "bus", "metro", "ev_car"])
    def test_trip_at_exactly_the_max_speed_passes_and_one_metre_more_fails(self, mode: TripMode) -> None:
        top = POLICY.max_speed_kmh[mode] * 1000  # metres in one hour
        assert one(action(trip(mode, top, 3600)), CitizenState()).status != "rejected"  # may be capped
        over = one(action(trip(mode, top + 1, 3600)), CitizenState())
        assert (over.status, over.reasons, over.reduction_g, over.points) == (
            "rejected",
            ("implausible-speed",),
            0,
            0,
        )

    def test_bike_at_exactly_30_kmh_passes_and_just_above_fails(self) -> None:
        assert one(action(trip("bike", 5000, 600)), CitizenState()).status == "credited"  # 30 km/h
        assert one(action(trip("bike", 5000, 599)), CitizenState()).reasons == ("implausible-speed",)

    @pytest.mark.parametrize("mode", ["walk", "bike", "bus", "metro", "ev_car"])
    def test_trip_of_exactly_the_max_distance_passes_and_one_metre_more_fails(self, mode: TripMode) -> None:
        longest = POLICY.max_distance_km[mode] * 1000
        slow = 3 * 86_400  # far below any speed limit
        assert one(action(trip(mode, longest, slow)), CitizenState()).status != "rejected"
        assert one(action(trip(mode, longest + 1, slow)), CitizenState()).reasons == ("implausible-distance",)

    def test_trip_of_60_seconds_passes_and_59_is_too_short(self) -> None:
        assert one(action(trip("walk", 100, 60)), CitizenState()).status == "credited"
        assert one(action(trip("walk", 100, 59)), CitizenState()).reasons == ("too-short",)

    def test_first_failing_check_is_the_only_reason(self) -> None:
        # 59 s and 200 km by bike: too short, too far and too fast; duration is checked first.
        assert one(action(trip("bike", 200_000, 59)), CitizenState()).reasons == ("too-short",)
        assert one(action(trip("bike", 200_000, 600)), CitizenState()).reasons == ("implausible-distance",)

    def test_limits_come_from_the_policy(self) -> None:
        strict = Policy.from_json({**POLICY.to_json(), "max_speed_kmh": {**POLICY.max_speed_kmh, "bike": 20}})
        assert one(action(trip("bike", 5000, 600)), CitizenState(), strict).reasons == ("implausible-speed",)


# --- overlap --------------------------------------------------------------------------------------


class TestOverlap:
    def test_second_partner_reporting_overlapping_trip_is_rejected(self) -> None:
        metro = action(trip("metro", 8000, 1200), partner="p_metro")
        bike = action(trip("bike", 3000, 900), at=AT + timedelta(minutes=10), partner="p_bike")
        (first, second), _ = run([metro, bike])
        assert first.status == "credited"
        assert (second.status, second.reasons, second.reduction_g) == ("rejected", ("overlapping-trip",), 0)

    def test_later_reported_trip_that_started_earlier_and_overlaps_is_rejected(self) -> None:
        (_, earlier), _ = run(
            [action(trip(), at=AT), action(trip(duration_s=600), at=AT - timedelta(minutes=5))]
        )
        assert earlier.reasons == ("overlapping-trip",)

    def test_touching_spans_do_not_overlap(self) -> None:
        first = action(trip(duration_s=600), at=AT)
        after = action(trip(duration_s=600), at=AT + timedelta(seconds=600))  # starts as the first ends
        before = action(trip(duration_s=600), at=AT - timedelta(seconds=600))  # ends as the first starts
        outcomes, state = run([first, after, before])
        assert [o.status for o in outcomes] == ["credited"] * 3
        inside = action(trip(distance_m=500, duration_s=60), at=AT + timedelta(seconds=599))
        assert one(inside, state).reasons == ("overlapping-trip",)

    def test_a_rejected_trip_blocks_no_later_trip(self) -> None:
        too_fast = action(trip("walk", 5000, 600))
        (rejected, credited), _ = run([too_fast, action(trip(duration_s=300), at=AT + timedelta(minutes=1))])
        assert (rejected.status, credited.status) == ("rejected", "credited")

    def test_a_trip_capped_to_zero_still_occupies_its_time(self) -> None:
        _, state = run(trips_at(12))
        capped_at = AT + timedelta(hours=7)
        outcomes, state = run([action(trip(duration_s=600), at=capped_at)], state)
        assert outcomes[0].reasons == ("cap-daily-trips",)
        assert one(
            action(trip(distance_m=500, duration_s=60), at=capped_at + timedelta(minutes=1)), state
        ).reasons == ("overlapping-trip",)

    def test_waste_and_meals_never_overlap_trips(self) -> None:
        outcomes, _ = run([action(trip()), action(waste(1000)), action(meal())])
        assert [o.status for o in outcomes] == ["credited"] * 3


# --- caps -----------------------------------------------------------------------------------------


class TestCaps:
    def test_twelfth_trip_is_credited_and_thirteenth_capped_to_zero(self) -> None:
        outcomes, state = run(trips_at(13))
        assert [o.status for o in outcomes[:12]] == ["credited"] * 12
        last = outcomes[12]
        assert (last.status, last.reasons, last.reduction_g, last.points) == (
            "capped",
            ("cap-daily-trips",),
            0,
            0,
        )
        assert state.day(local_day(AT)).trips == 12

    def test_fourth_meal_is_capped(self) -> None:
        two_per_kind = Policy.from_json({**POLICY.to_json(), "daily_meals_per_kind": 2})
        meals = [action(meal(k)) for k in ("breakfast", "lunch", "dinner", "lunch")]
        outcomes, _ = run(meals, policy=two_per_kind)
        assert [o.status for o in outcomes] == ["credited"] * 3 + ["capped"]
        assert (outcomes[3].reasons, outcomes[3].reduction_g) == (("cap-meals",), 0)

    def test_fourth_meal_under_defaults_names_both_count_caps(self) -> None:
        outcomes, _ = run([action(meal(k)) for k in ("breakfast", "lunch", "dinner", "dinner")])
        assert outcomes[3].reasons == ("cap-meals", "cap-meal-kind")

    def test_second_lunch_is_capped(self) -> None:
        (lunch, again, dinner), _ = run(
            [action(meal("lunch")), action(meal("lunch")), action(meal("dinner"))]
        )
        assert (lunch.status, lunch.reduction_g) == ("credited", 144)
        assert (again.status, again.reasons, again.reduction_g, again.points) == (
            "capped",
            ("cap-meal-kind",),
            0,
            0,
        )
        assert dinner.status == "credited"

    def test_waste_up_to_20_kg_is_credited_and_a_gram_more_is_capped(self) -> None:
        (full, more), state = run([action(waste(20_000)), action(waste(1))])
        assert (full.status, full.reduction_g) == ("credited", 5_000)  # 20 kg of kitchen waste at 0.25 g/g
        assert (more.status, more.reasons, more.reduction_g) == ("capped", ("cap-waste-weight",), 0)
        assert state.day(local_day(AT)).waste_g == 20_000

    def test_waste_over_the_weight_cap_earns_the_allowed_share_rounded_down(self) -> None:
        first = (action(waste(19_000)), grams(1_000))
        second = (action(waste(2_000)), grams(999, points=333))
        (_, partial), state = run([first, second])
        # 1,000 g of 2,000 g fit: floor(1000 × 999 / 2000) = 499 g, points at the assessment's ratio.
        assert (partial.status, partial.reasons, partial.reduction_g, partial.points) == (
            "capped",
            ("cap-waste-weight",),
            499,
            499 * 333 // 999,
        )
        assert state.day(local_day(AT)).waste_g == 20_000

    def test_total_of_exactly_5000_g_is_credited_and_the_rest_is_capped(self) -> None:
        items = [
            (action(waste(100)), grams(4_000)),
            (action(waste(100)), grams(1_000)),
            (action(waste(100)), grams(1)),
        ]
        (a, b, c), state = run(items)
        assert (a.status, b.status, b.reduction_g) == ("credited", "credited", 1_000)
        assert (c.status, c.reasons, c.reduction_g, c.points) == ("capped", ("cap-daily-reduction",), 0, 0)
        assert state.day(local_day(AT)).reduction_g == 5_000

    def test_total_cap_credits_the_remaining_grams_with_points_at_the_assessment_ratio(self) -> None:
        items = [
            (action(waste(100)), grams(4_000)),
            (action(waste(100)), grams(1_500, points=750, book="nanao")),
        ]
        (_, partial), _ = run(items)
        assert (partial.status, partial.reasons, partial.reduction_g, partial.points) == (
            "capped",
            ("cap-daily-reduction",),
            1_000,
            500,
        )
        assert partial.book == "nanao"

    def test_weight_and_total_caps_are_both_named_when_both_limit(self) -> None:
        items = [(action(waste(19_000)), grams(4_900)), (action(waste(2_000)), grams(400))]
        (_, both), _ = run(items)
        assert (both.reasons, both.reduction_g) == (("cap-waste-weight", "cap-daily-reduction"), 100)

    def test_caps_span_both_books(self) -> None:
        items = [
            (action(waste(100), region=LONGHU), grams(3_000)),
            (action(waste(100), region=NANAO), grams(3_000, book="nanao")),
        ]
        (_, nanao), _ = run(items)
        assert (nanao.reduction_g, nanao.reasons) == (2_000, ("cap-daily-reduction",))

    def test_rejected_actions_use_no_allowance(self) -> None:
        too_fast = [action(trip("walk", 9000, 3600), at=AT + timedelta(minutes=i)) for i in range(5)]
        outcomes, state = run(too_fast + trips_at(12, start=AT + timedelta(hours=1)))
        assert [o.status for o in outcomes] == ["rejected"] * 5 + ["credited"] * 12
        assert state.day(local_day(AT)).trips == 12

    def test_actions_capped_to_zero_use_no_allowance(self) -> None:
        _, state = run([action(meal("lunch")), action(meal("lunch"))])
        day = state.day(local_day(AT))
        assert (day.meals, day.meal_kinds, day.reduction_g) == (1, (("lunch", 1),), 144)

    def test_zero_reduction_waste_is_credited_with_zero_and_counts_its_weight(self) -> None:
        (hazardous, kitchen), _ = run([action(waste(20_000, "hazardous")), action(waste(1_000))])
        assert (hazardous.status, hazardous.reduction_g, hazardous.points) == ("credited", 0, 0)
        assert (kitchen.reduction_g, kitchen.reasons) == (0, ("cap-waste-weight",))

    def test_a_new_local_day_starts_at_exactly_1600_utc(self) -> None:
        midnight = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 2026-11-25 00:00 +08:00
        _, state = run([action(meal("dinner"), at=midnight - timedelta(hours=5))])
        just_before = one(action(meal("dinner"), at=midnight - timedelta(microseconds=1)), state)
        at_midnight = one(action(meal("dinner"), at=midnight), state)
        assert (just_before.reasons, at_midnight.status) == (("cap-meal-kind",), "credited")

    def test_a_trip_crossing_midnight_counts_on_the_day_it_started(self) -> None:
        day_start = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 2026-11-24 00:00 +08:00
        _, state = run(trips_at(12, start=day_start + timedelta(hours=1)))
        last_minute = action(
            trip(duration_s=600), at=day_start + timedelta(days=1, seconds=-60)
        )  # crosses midnight
        next_day = action(trip(duration_s=600), at=day_start + timedelta(days=1, minutes=10))
        (late, early), _ = run([last_minute, next_day], state)
        assert (late.status, late.reasons) == ("capped", ("cap-daily-trips",))  # its start is on the full day
        assert early.status == "credited"
        assert local_day(day_start - timedelta(microseconds=1)) != local_day(day_start)

    def test_an_action_capped_by_a_count_cap_earns_no_points_at_all(self) -> None:
        _, state = run([action(meal("lunch"))])
        bonus_only = (action(meal("lunch")), grams(0, points=50))  # e.g. campaign points without grams
        assert (one(bonus_only, state).points, one(bonus_only, CitizenState()).points) == (0, 50)

    def test_caps_come_from_the_policy(self) -> None:
        three = Policy.from_json({**POLICY.to_json(), "daily_trips": 3})
        outcomes, _ = run(trips_at(4), policy=three)
        assert outcomes[3].reasons == ("cap-daily-trips",)


# --- repetition -----------------------------------------------------------------------------------


class TestRepetition:
    def test_fourth_identical_trip_distance_of_the_day_is_flagged_not_rejected(self) -> None:
        modes: list[TripMode] = ["bus", "metro", "bike", "bus", "ev_car"]
        same = [action(trip(m, 5200, 1380), at=AT + timedelta(hours=i)) for i, m in enumerate(modes)]
        outcomes, _ = run(same)
        assert [o.flagged for o in outcomes] == [False, False, False, True, True]
        assert (outcomes[3].status, outcomes[3].reasons) == ("credited", ("repetition-review",))

    def test_fourth_identical_waste_weight_is_flagged(self) -> None:
        outcomes, _ = run([action(waste(1_500)) for _ in range(4)])
        assert [o.flagged for o in outcomes] == [False, False, False, True]

    def test_different_distances_and_other_days_are_not_repetition(self) -> None:
        varied = [
            action(trip(distance_m=5000 + i, duration_s=600), at=AT + timedelta(hours=i)) for i in range(5)
        ]
        spread = [action(trip(duration_s=600), at=AT + timedelta(days=i)) for i in range(5)]
        assert not any(o.flagged for o in run(varied)[0] + run(spread)[0])

    def test_a_flagged_action_keeps_its_cap(self) -> None:
        items = [(action(waste(1_500)), grams(2_000)) for _ in range(4)]
        outcomes, _ = run(items)
        assert (outcomes[3].status, outcomes[3].reasons, outcomes[3].flagged) == (
            "capped",
            ("cap-daily-reduction", "repetition-review"),
            True,
        )

    def test_threshold_comes_from_the_policy(self) -> None:
        two = Policy.from_json({**POLICY.to_json(), "repetition_threshold": 2})
        outcomes, _ = run([action(trip(), at=AT + timedelta(hours=i)) for i in range(2)], policy=two)
        assert [o.flagged for o in outcomes] == [False, True]


# --- state, retention, rebuild --------------------------------------------------------------------


class TestState:
    def test_decide_returns_a_new_state_and_leaves_the_old_one(self) -> None:
        before = CitizenState()
        _, after = decide(action(trip()), priced(action(trip())), before, POLICY)
        assert before == CitizenState() and after != before

    def test_state_round_trips_through_json_text(self) -> None:
        history = [
            *trips_at(3),
            action(waste(1_000)),
            action(meal("dinner")),
            action(trip(), at=AT + timedelta(days=1)),
        ]
        _, state = run(history)
        assert CitizenState.from_json(json.loads(json.dumps(state.to_json()))) == state

    @pytest.mark.parametrize(
        "change",
        [
            {"format": 2},
            {"spans": [[10, 20], [15, 30]]},
            {"spans": [[20, 10]]},
            {"latest_us": "soon"},
            {"days": {"2026-11-24": {"trips": 1}}},
            {"days": {"24/11/2026": {}}},
        ],
    )
    def test_malformed_state_is_refused(self, change: dict[str, Any]) -> None:
        with pytest.raises(InvalidRulesState):
            CitizenState.from_json({**CitizenState().to_json(), **change})

    def test_spans_and_days_beyond_the_retention_are_pruned(self) -> None:
        _, state = run(
            [action(trip(duration_s=600)), action(trip(duration_s=600), at=AT + timedelta(days=9))]
        )
        assert len(state.spans) == 1 and [d.day for d in state.days] == [local_day(AT + timedelta(days=9))]

    def test_action_older_than_the_retention_is_rejected_and_one_at_the_horizon_is_not(self) -> None:
        _, state = run([action(trip(duration_s=600), at=AT + timedelta(days=8))])
        assert one(action(trip(duration_s=600), at=AT - timedelta(seconds=1)), state).reasons == (
            "beyond-retention",
        )
        assert one(action(trip(duration_s=600), at=AT), state).status == "credited"

    def test_the_day_and_the_spans_at_the_horizon_are_kept(self) -> None:
        early = action(trip(duration_s=3600), at=AT - timedelta(minutes=30))  # ends 30 min after AT
        _, state = run([*trips_at(11, start=AT + timedelta(hours=1)), early])
        _, state = run([action(trip(duration_s=600), at=AT + timedelta(days=8))], state)  # horizon: AT
        assert one(
            action(trip(distance_m=500, duration_s=60), at=AT + timedelta(minutes=10)), state
        ).reasons == ("overlapping-trip",)
        assert one(action(trip(duration_s=600), at=AT + timedelta(hours=7)), state).reasons == (
            "cap-daily-trips",
        )

    def test_rebuild_from_settled_outcomes_gives_the_decided_state(self) -> None:
        history = [
            *trips_at(14),
            action(trip("walk", 9000, 600)),
            action(meal()),
            action(meal()),
            action(waste(25_000)),
        ]
        outcomes, state = run(history)
        assert rebuild(zip(history, outcomes, strict=True), POLICY) == state
        settled = [(a, o) for a, o in zip(history, outcomes, strict=True) if o.status != "rejected"]
        assert rebuild(settled, POLICY) == state


# --- reasons and docs -----------------------------------------------------------------------------


class TestReasons:
    def test_reason_codes_are_unique_kebab_case_and_described(self) -> None:
        assert len(set(REASON_CODES)) == len(REASONS)
        assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", r.code) and r.description for r in REASONS)

    def test_every_reason_code_and_default_is_in_docs_rules_md(self) -> None:
        text = (REPO / "docs" / "rules.md").read_text()
        assert all(f"`{code}`" in text for code in REASON_CODES)
        order = [text.index(f"`{code}`") for code in REASON_CODES]
        assert order == sorted(order), "docs list the reasons in precedence order"
        for mode in POLICY.max_speed_kmh:
            row = f"| `{mode}` | {POLICY.max_speed_kmh[mode]} | {POLICY.max_distance_km[mode]} |"
            assert row in text, row
        for name, shown in [
            ("min_duration_s", "60 s"),
            ("daily_trips", "12"),
            ("daily_meals", "3"),
            ("daily_meals_per_kind", "1"),
            ("daily_waste_g", "20,000 g"),
            ("daily_reduction_g", "5,000 g"),
            ("repetition_threshold", "4th"),
            ("retention_s", "8 days"),
        ]:
            assert f"`{name}` (default {shown})" in text, name
