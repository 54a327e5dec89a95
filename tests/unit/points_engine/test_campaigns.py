"""points_engine.campaigns: which actions a campaign rewards, how much, and a budget that is never
overspent whatever the sequence of actions (hypothesis), granted the same way every time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from points_engine.campaigns import (
    ActionFacts,
    Budget,
    Campaign,
    InvalidCampaign,
    Selector,
    bonus_for,
    burn_since,
    earns_bonus,
    grant_all,
    project,
)

START = datetime(2026, 9, 21, 16, 0, tzinfo=UTC)  # 22 September, Car-Free Day, 00:00 in Shanghai
END = START + timedelta(days=1)


def car_free_day(**overrides: object) -> Campaign:
    fields: dict[str, object] = {
        "campaign_id": "car-free-day-2026",
        "name": "Car-Free Day",
        "applies_to": ["trip.bus", "trip.metro"],
        "regions": [],
        "starts_at": START,
        "ends_at": END,
        "bonus_percent": 100,
        "fixed_points": 0,
    }
    fields.update(overrides)
    return Campaign.of(**fields)  # type: ignore[arg-type]


def bus_trip(**overrides: object) -> ActionFacts:
    facts = ActionFacts(
        type="trip",
        kind="bus",
        region="440507",
        occurred_at=START + timedelta(hours=8),
        status="credited",
        flagged=False,
        points=140,
    )
    return replace(facts, **overrides)  # type: ignore[arg-type]


class TestSelectors:
    @pytest.mark.parametrize(
        ("text", "selector"),
        [
            ("trip", Selector("trip")),
            ("trip.bike", Selector("trip", "bike")),
            ("waste_sorting.hazardous", Selector("waste_sorting", "hazardous")),
            ("clean_plate.lunch", Selector("clean_plate", "lunch")),
        ],
    )
    def test_a_type_or_a_type_and_one_of_its_kinds_is_a_selector(self, text, selector):
        assert Selector.parse(text) == selector
        assert str(selector) == text

    @pytest.mark.parametrize(
        "text",
        ["", "bus", "Trip", "trip.", "trip.rocket", "trip.hazardous", "waste_sorting.bus", "trip.bike.x", 7],
    )
    def test_anything_else_is_refused(self, text):
        with pytest.raises(InvalidCampaign):
            Selector.parse(text)

    def test_a_type_selects_every_kind_and_a_kind_only_itself(self):
        assert Selector("trip").selects("trip", "walk")
        assert Selector("trip", "bike").selects("trip", "bike")
        assert not Selector("trip", "bike").selects("trip", "bus")
        assert not Selector("trip").selects("clean_plate", None)


class TestCampaignRules:
    def test_selectors_and_regions_are_kept_once_in_a_stable_order(self):
        c = car_free_day(applies_to=["trip.metro", "trip.bus", "trip.bus"], regions=["440523", "440507"])
        assert [str(s) for s in c.applies_to] == ["trip.bus", "trip.metro"]
        assert c.regions == ("440507", "440523")
        assert car_free_day(applies_to=["trip", "trip.bus"]).applies_to == (
            Selector("trip"),
            Selector("trip", "bus"),
        )

    @pytest.mark.parametrize(
        "overrides",
        [
            {"campaign_id": ""},
            {"campaign_id": "has space"},
            {"campaign_id": "a:b"},
            {"campaign_id": "x" * 65},
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 201},
            {"applies_to": []},
            {"regions": ["110000"]},
            {"ends_at": START},
            {"ends_at": START - timedelta(seconds=1)},
            {"starts_at": datetime(2026, 9, 22)},
            {"bonus_percent": -1},
            {"bonus_percent": 1001},
            {"bonus_percent": 1.5},
            {"bonus_percent": True},
            {"fixed_points": -5},
            {"fixed_points": 100_001},
            {"bonus_percent": 0, "fixed_points": 0},
        ],
    )
    def test_a_campaign_breaking_a_rule_cannot_be_made(self, overrides):
        with pytest.raises(InvalidCampaign):
            car_free_day(**overrides)

    def test_the_window_includes_its_start_and_excludes_its_end(self):
        c = car_free_day()
        assert c.matches(bus_trip(occurred_at=START))
        assert c.matches(bus_trip(occurred_at=END - timedelta(microseconds=1)))
        assert not c.matches(bus_trip(occurred_at=END))
        assert not c.matches(bus_trip(occurred_at=START - timedelta(microseconds=1)))

    def test_regions_narrow_the_campaign_and_none_means_every_region(self):
        assert car_free_day().matches(bus_trip(region="440523"))
        nanao = car_free_day(regions=["440523"])
        assert nanao.matches(bus_trip(region="440523"))
        assert not nanao.matches(bus_trip(region="440507"))

    def test_only_the_selected_types_and_kinds_match(self):
        c = car_free_day()
        assert c.matches(bus_trip(kind="metro"))
        assert not c.matches(bus_trip(kind="bike"))
        assert not c.matches(bus_trip(type="clean_plate", kind="lunch"))


class TestBonus:
    def test_a_hundred_percent_doubles_the_points(self):
        assert bonus_for(car_free_day(), bus_trip(points=140)) == 140

    def test_a_percentage_is_rounded_down_and_fixed_points_are_added(self):
        c = car_free_day(bonus_percent=50, fixed_points=10)
        assert bonus_for(c, bus_trip(points=141)) == 70 + 10

    def test_an_action_earning_no_points_earns_the_fixed_bonus(self):
        hazardous = car_free_day(applies_to=["waste_sorting.hazardous"], bonus_percent=0, fixed_points=50)
        facts = bus_trip(type="waste_sorting", kind="hazardous", points=0)
        assert bonus_for(hazardous, facts) == 50

    @pytest.mark.parametrize(
        ("overrides", "earns"),
        [
            ({"status": "credited"}, True),
            ({"status": "capped", "points": 30}, True),
            ({"status": "capped", "points": 0}, False),
            ({"status": "rejected", "points": 0}, False),
            ({"flagged": True}, False),
            ({"status": "credited", "points": 0}, True),
        ],
    )
    def test_which_outcomes_earn_a_bonus(self, overrides, earns):
        facts = bus_trip(**overrides)
        assert earns_bonus(facts) is earns
        fixed = car_free_day(fixed_points=5)
        assert (bonus_for(fixed, facts) > 0) is earns

    def test_an_action_outside_the_campaign_earns_nothing(self):
        assert bonus_for(car_free_day(fixed_points=5), bus_trip(kind="walk")) == 0


class TestBudget:
    def test_a_grant_is_clipped_to_what_remains_and_then_nothing_more_is_given(self):
        budget = Budget(100, 90)
        points, budget = budget.grant(25)
        assert (points, budget, budget.exhausted) == (10, Budget(100, 100), True)
        assert budget.grant(25) == (0, Budget(100, 100))

    def test_funding_adds_to_the_budget(self):
        assert Budget(100, 100).fund(50) == Budget(150, 100)
        assert Budget(100, 100).fund(50).remaining == 50

    @pytest.mark.parametrize("points", [0, -1, 10**12, 2.0, True])
    def test_funding_by_nothing_a_negative_a_fraction_or_beyond_the_maximum_is_refused(self, points):
        with pytest.raises(InvalidCampaign):
            Budget(100).fund(points)

    @pytest.mark.parametrize(("budget", "granted"), [(-1, 0), (10, 11), (10, -1)])
    def test_a_budget_is_never_negative_nor_overspent(self, budget, granted):
        with pytest.raises(InvalidCampaign):
            Budget(budget, granted)

    def test_the_action_spending_the_last_point_gets_what_was_left_and_later_ones_are_not_looked_at(self):
        actions = [(n, bus_trip(points=100)) for n in range(5)]
        result = grant_all(car_free_day(), Budget(250), actions)
        assert result.granted == ((0, 100), (1, 100), (2, 50))
        assert result.consumed == 3 and result.budget == Budget(250, 250)

    def test_actions_earning_no_bonus_are_looked_at_but_not_granted(self):
        actions = [(0, bus_trip(kind="walk")), (1, bus_trip(points=7))]
        result = grant_all(car_free_day(), Budget(250), actions)
        assert result.granted == ((1, 7),) and result.consumed == 2


facts_strategy = st.builds(
    ActionFacts,
    type=st.sampled_from(["trip", "waste_sorting", "clean_plate"]),
    kind=st.sampled_from(["bus", "metro", "bike", "hazardous", "lunch", None]),
    region=st.sampled_from(["440507", "440523"]),
    occurred_at=st.datetimes(
        min_value=datetime(2026, 9, 21), max_value=datetime(2026, 9, 24), timezones=st.just(UTC)
    ),
    status=st.sampled_from(["credited", "capped", "rejected"]),
    flagged=st.booleans(),
    points=st.integers(0, 6000),
)
campaign_strategy = st.builds(
    car_free_day,
    applies_to=st.lists(
        st.sampled_from(["trip", "trip.bus", "trip.metro", "waste_sorting.hazardous"]), min_size=1
    ),
    regions=st.lists(st.sampled_from(["440507", "440523"]), max_size=2),
    bonus_percent=st.integers(1, 1000),
    fixed_points=st.integers(0, 1000),
)


class TestBudgetProperties:
    @given(campaign_strategy, st.integers(1, 50_000), st.lists(facts_strategy, max_size=60))
    @example(car_free_day(), 1, [bus_trip(), bus_trip()])
    def test_the_total_granted_never_exceeds_the_budget(self, campaign, budget_points, actions):
        result = grant_all(campaign, Budget(budget_points), enumerate(actions))
        total = sum(points for _, points in result.granted)
        wanted = sum(bonus_for(campaign, f) for f in actions)
        assert total == result.budget.granted_points == min(budget_points, wanted)
        assert 0 <= result.budget.remaining <= budget_points
        for key, points in result.granted:
            assert 0 < points <= bonus_for(campaign, actions[key])
        if result.consumed < len(actions):
            assert result.budget.exhausted

    @given(campaign_strategy, st.integers(1, 50_000), st.lists(facts_strategy, max_size=60))
    def test_grants_are_the_same_every_time(self, campaign, budget_points, actions):
        first = grant_all(campaign, Budget(budget_points), enumerate(actions))
        assert grant_all(campaign, Budget(budget_points), enumerate(actions)) == first

    @given(
        campaign_strategy,
        st.integers(1, 50_000),
        st.lists(facts_strategy, max_size=60),
        st.lists(st.integers(0, 60), max_size=4),
    )
    def test_granting_in_batches_gives_what_one_pass_gives(self, campaign, budget_points, actions, cuts):
        """The workers grant batch by batch, resuming where the last batch stopped."""
        whole = grant_all(campaign, Budget(budget_points), enumerate(actions))
        budget, granted, start = Budget(budget_points), [], 0
        for end in [*sorted(cuts), len(actions)]:
            part = list(enumerate(actions))[start : max(start, end)]
            result = grant_all(campaign, budget, part)
            budget, granted = result.budget, granted + list(result.granted)
            start += result.consumed
            if budget.exhausted:
                break
        assert (tuple(granted), budget) == (whole.granted, whole.budget)


NOW = START + timedelta(days=3)


class TestProjection:
    def campaign(self) -> Campaign:
        return car_free_day(starts_at=START, ends_at=START + timedelta(days=30))

    def test_the_burn_rate_is_measured_since_the_start_within_the_last_week(self):
        c = self.campaign()
        assert burn_since(c, NOW) == START
        assert burn_since(c, START + timedelta(days=10)) == START + timedelta(days=3)

    def test_at_the_recent_rate_the_budget_runs_out_on_the_projected_day(self):
        # 3,000 points in 3 days: 1,000 a day; 37,000 left: 37 days from now, after the end
        outlook = project(self.campaign(), Budget(40_000, 3_000), 3_000, NOW)
        assert outlook.burn_per_day == 1_000
        assert outlook.exhausted_at == NOW + timedelta(days=37)
        assert not outlook.low_budget

    def test_running_out_before_the_end_is_low_budget(self):
        outlook = project(self.campaign(), Budget(100_000, 90_000 - 1), 30_000, NOW)
        assert outlook.exhausted_at is not None and outlook.exhausted_at < self.campaign().ends_at
        assert outlook.low_budget

    def test_less_than_ten_percent_left_is_low_budget_even_with_no_recent_grants(self):
        assert project(self.campaign(), Budget(1_000, 901), 0, NOW).low_budget
        assert not project(self.campaign(), Budget(1_000, 900), 0, NOW).low_budget

    def test_without_recent_grants_there_is_no_projection(self):
        outlook = project(self.campaign(), Budget(1_000), 0, NOW)
        assert (outlook.burn_per_day, outlook.exhausted_at) == (0, None)

    def test_an_exhausted_campaign_is_low_and_has_no_projection(self):
        outlook = project(self.campaign(), Budget(1_000, 1_000), 500, NOW)
        assert outlook.exhausted_at is None and outlook.low_budget

    def test_an_ended_campaign_warns_of_nothing(self):
        outlook = project(self.campaign(), Budget(1_000, 999), 500, NOW, ended=True)
        assert outlook.exhausted_at is None and not outlook.low_budget

    def test_a_rate_from_minutes_of_data_is_taken_over_an_hour(self):
        outlook = project(self.campaign(), Budget(10_000), 100, START + timedelta(minutes=5))
        assert outlook.burn_per_day == 2_400
