"""The partner simulators: contract-shaped, deterministic, honest unless told, fraud as labelled.

Limits below are copied from docs (partner-api.md, domain.md), not from the simulators, so the
simulators are checked against the contract rather than against themselves.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta

import httpx
import pytest

from partners.simulators import (
    GENERATORS,
    SUPPORTED,
    Traffic,
    inject,
    replay_day,
    replay_request,
    run_at_rate,
)
from partners.simulators.cli import main
from partners.simulators.geography import routes

pytestmark = pytest.mark.unit

TUESDAY, SATURDAY = date(2026, 11, 24), date(2026, 11, 28)
REGIONS = {"440507", "440511", "440512", "440513", "440514", "440515", "440523"}
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
MOBILE = re.compile(r"\+86138\d{8}")
MODES = {"bus", "metro", "bike", "walk", "ev_car"}
CATEGORIES = {"recyclable", "kitchen", "hazardous", "other"}
MATERIALS = {"paper", "plastic", "metal", "glass", "textile"}
# domain.md, anti-fraud defaults
MAX_KMH = {"walk": 8, "bike": 30, "bus": 80, "metro": 120, "ev_car": 150}
MAX_KM = {"walk": 20, "bike": 50, "bus": 100, "metro": 150, "ev_car": 300}
# domain.md, methodology 2026.1
TRIP_G_PER_KM = {"metro": 46.8, "bus": 26.9, "bike": 40, "walk": 28, "ev_car": 71}
WASTE_G_PER_G = {
    "paper": 1.76,
    "plastic": 1.37,
    "metal": 1.83,
    "glass": 0.26,
    "textile": 1.28,
    "kitchen": 0.25,
}


def assert_contract_shape(action: dict) -> None:
    assert set(action) == {"event_id", "user", "type", "occurred_at", "region", "data"}
    assert EVENT_ID.fullmatch(action["event_id"])
    assert isinstance(action["user"], str) and 1 <= len(action["user"]) <= 64
    assert RFC3339.fullmatch(action["occurred_at"]) and action["occurred_at"].endswith("+08:00")
    assert datetime.fromisoformat(action["occurred_at"]).utcoffset() == timedelta(hours=8)
    assert action["region"] in REGIONS
    data = action["data"]
    positive = lambda v: type(v) is int and v > 0  # noqa: E731
    if action["type"] == "trip":
        assert set(data) == {"mode", "distance_m", "duration_s"} and data["mode"] in MODES
        assert positive(data["distance_m"]) and positive(data["duration_s"])
    elif action["type"] == "waste_sorting":
        assert (
            {"category", "weight_g", "station_id"}
            <= set(data)
            <= {"category", "weight_g", "station_id", "material"}
        )
        assert (
            data["category"] in CATEGORIES
            and positive(data["weight_g"])
            and isinstance(data["station_id"], str)
        )
        assert "material" not in data or (data["category"] == "recyclable" and data["material"] in MATERIALS)
    else:
        assert action["type"] == "clean_plate"
        assert set(data) == {"canteen_id", "meal", "verified_by"} and isinstance(data["canteen_id"], str)
        assert data["meal"] in {"breakfast", "lunch", "dinner"} and data["verified_by"] in {
            "photo_ai",
            "staff",
        }


def span(action: dict, as_start: bool) -> tuple[datetime, datetime]:
    """The trip's time span, reading occurred_at as its start or as its end."""
    moment, duration = (
        datetime.fromisoformat(action["occurred_at"]),
        timedelta(seconds=action["data"]["duration_s"]),
    )
    return (moment, moment + duration) if as_start else (moment - duration, moment)


def overlap(a: dict, b: dict, as_start: bool) -> bool:
    (a0, a1), (b0, b1) = span(a, as_start), span(b, as_start)
    return a0 < b1 and b0 < a1


def reduction_g(action: dict) -> float:
    data = action["data"]
    if action["type"] == "trip":
        return TRIP_G_PER_KM[data["mode"]] * data["distance_m"] / 1000
    if action["type"] == "clean_plate":
        return 144
    key = data["category"] if data["category"] != "recyclable" else data.get("material", "glass")
    return WASTE_G_PER_G.get(key, 0) * data["weight_g"]


def kmh(action: dict) -> float:
    return action["data"]["distance_m"] / action["data"]["duration_s"] * 3.6


@pytest.fixture(scope="module")
def honest() -> dict[tuple[date, str], Traffic]:
    return {
        (d, k): g.day(d, citizens=400, seed=7) for d in (TUESDAY, SATURDAY) for k, g in GENERATORS.items()
    }


@pytest.fixture(scope="module")
def fraudulent() -> dict[str, Traffic]:
    out = {}
    for kind, generator in GENERATORS.items():
        frauds = [f for f in SUPPORTED[kind] if f != "replay"]
        traffic = generator.day(TUESDAY, citizens=100, seed=3)
        out[kind] = inject(traffic, kind, frauds, day=TUESDAY, seed=3, citizens=100, count=2)
    return out


def by_mobile(traffics: list[Traffic]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for traffic in traffics:
        mobiles = dict(traffic.bindings)
        for action in traffic.actions:
            grouped[mobiles[action["user"]]].append(action)
    return grouped


class TestContractShape:
    def test_every_action_honest_or_fraudulent_has_the_contract_shape(self, honest, fraudulent) -> None:
        for traffic in [*honest.values(), *fraudulent.values()]:
            users = dict(traffic.bindings)
            for action in traffic.actions:
                assert_contract_shape(action)
                assert MOBILE.fullmatch(users[action["user"]])
            assert [a["occurred_at"] for a in traffic.actions] == sorted(
                a["occurred_at"] for a in traffic.actions
            )

    def test_a_batch_of_1000_fits_the_request_limit(self, honest) -> None:
        actions = [a for traffic in honest.values() for a in traffic.actions][:1000]
        assert len(json.dumps({"actions": actions}).encode()) < 1024 * 1024

    def test_every_kind_reports_its_own_type_on_the_given_day(self, honest) -> None:
        types = {"transit": "trip", "bike": "trip", "waste": "waste_sorting", "canteen": "clean_plate"}
        for (day, kind), traffic in honest.items():
            assert traffic.actions, kind
            assert {a["type"] for a in traffic.actions} == {types[kind]}
            assert {a["occurred_at"][:10] for a in traffic.actions} == {day.isoformat()}


class TestDeterminism:
    def test_the_same_seed_gives_the_same_traffic(self) -> None:
        for generator in GENERATORS.values():
            assert generator.day(TUESDAY, citizens=50, seed=5) == generator.day(TUESDAY, citizens=50, seed=5)
            assert generator.day(TUESDAY, 50, 5).actions != generator.day(TUESDAY, 50, 6).actions

    def test_event_ids_are_unique_across_every_kind_seed_and_day(self, honest) -> None:
        ids = [a["event_id"] for t in honest.values() for a in t.actions]
        ids += [a["event_id"] for a in GENERATORS["transit"].day(TUESDAY, 400, seed=8).actions]
        assert len(ids) == len(set(ids))

    def test_a_citizens_actions_do_not_depend_on_how_many_are_simulated(self) -> None:
        small, large = (GENERATORS["waste"].day(TUESDAY, citizens=n, seed=2) for n in (30, 90))
        by_id = {a["event_id"]: a for a in large.actions}
        assert small.actions and all(by_id[a["event_id"]] == a for a in small.actions)

    def test_partners_given_one_population_share_mobiles_under_their_own_user_ids(self) -> None:
        transit, bike = (
            GENERATORS[k].day(TUESDAY, citizens=50, seed=1, population_seed=9) for k in ("transit", "bike")
        )
        assert [m for _, m in transit.bindings] == [m for _, m in bike.bindings]
        assert not {u for u, _ in transit.bindings} & {u for u, _ in bike.bindings}
        assert len({m for _, m in transit.bindings}) == 50
        other = GENERATORS["transit"].day(TUESDAY, citizens=50, seed=1, population_seed=10)
        assert not {m for _, m in transit.bindings} & {m for _, m in other.bindings}


class TestHonestTraffic:
    def test_no_citizen_has_overlapping_trips_across_partners(self, honest) -> None:
        for day in (TUESDAY, SATURDAY):
            for actions in by_mobile([honest[day, "transit"], honest[day, "bike"]]).values():
                for i, a in enumerate(actions):
                    for b in actions[i + 1 :]:
                        assert not overlap(a, b, as_start=True) and not overlap(a, b, as_start=False), (a, b)

    def test_trips_are_plausible_for_their_mode(self, honest) -> None:
        for traffic in honest.values():
            for trip in (a for a in traffic.actions if a["type"] == "trip"):
                mode, data = trip["data"]["mode"], trip["data"]
                assert data["duration_s"] >= 60 and data["distance_m"] <= MAX_KM[mode] * 1000
                assert kmh(trip) <= MAX_KMH[mode]
                if mode == "bike":
                    assert 500 <= data["distance_m"] <= 6000 and 7.9 <= kmh(trip) <= 18.1
                else:
                    assert mode == "bus" and 14.9 <= kmh(trip) <= 25.1

    def test_every_citizen_day_stays_under_the_daily_caps(self, honest) -> None:
        for day in (TUESDAY, SATURDAY):
            for actions in by_mobile([honest[day, k] for k in GENERATORS]).values():
                meals = [a["data"]["meal"] for a in actions if a["type"] == "clean_plate"]
                assert sum(a["type"] == "trip" for a in actions) <= 12
                assert len(meals) <= 3 and len(set(meals)) == len(meals)
                assert sum(a["data"]["weight_g"] for a in actions if a["type"] == "waste_sorting") <= 20_000
                assert sum(reduction_g(a) for a in actions) <= 5_000

    def test_waste_weights_are_realistic(self, honest) -> None:
        drops = [a["data"] for a in honest[TUESDAY, "waste"].actions]
        kitchen = [d["weight_g"] for d in drops if d["category"] == "kitchen"]
        paper = [d["weight_g"] for d in drops if d.get("material") == "paper"]
        assert kitchen and min(kitchen) >= 200 and max(kitchen) <= 3000
        assert paper and min(paper) >= 100 and max(paper) <= 5000
        assert {d["category"] for d in drops} == CATEGORIES
        recyclables = [d for d in drops if d["category"] == "recyclable"]
        assert {d.get("material") for d in recyclables} == MATERIALS | {None}

    def test_bus_trips_peak_in_the_rush_hours_on_a_workday(self, honest) -> None:
        hours = [int(a["occurred_at"][11:13]) for a in honest[TUESDAY, "transit"].actions]
        rush = sum(h in (7, 8, 17, 18) for h in hours)
        assert rush / len(hours) > 0.5

    def test_bus_routes_space_stops_500_to_800_m_and_cover_every_region(self, honest) -> None:
        assert len(routes()) >= 8
        for route in routes():
            gaps = [b - a for a, b in itertools.pairwise(route.positions_m)]
            assert all(500 <= gap <= 800 for gap in gaps)
        assert {d for r in routes() for d in r.districts} == REGIONS
        assert {a["region"] for a in honest[TUESDAY, "transit"].actions} == REGIONS

    def test_clean_plate_meals_happen_at_mealtimes(self, honest) -> None:
        hours = {"breakfast": range(7, 10), "lunch": range(11, 14), "dinner": range(17, 20)}
        for action in honest[TUESDAY, "canteen"].actions:
            assert int(action["occurred_at"][11:13]) in hours[action["data"]["meal"]]


class TestFraud:
    def cases(self, fraudulent, kind: str, fraud: str):
        traffic = fraudulent[kind]
        by_id = {a["event_id"]: a for a in traffic.actions}
        found = [c for c in traffic.fraud if c.kind == fraud]
        assert len(found) == 2
        return traffic, by_id, found

    @pytest.mark.parametrize("kind", ["transit", "bike"])
    def test_impossible_speed_exceeds_the_mode_limit_and_nothing_else(self, fraudulent, kind) -> None:
        _, by_id, cases = self.cases(fraudulent, kind, "speed")
        for case in cases:
            (trip,) = (by_id[e] for e in case.event_ids)
            mode = trip["data"]["mode"]
            assert kmh(trip) > MAX_KMH[mode] and trip["data"]["distance_m"] <= MAX_KM[mode] * 1000
            assert case.expect == "rejected"

    @pytest.mark.parametrize(("kind", "other"), [("transit", "bike"), ("bike", "transit")])
    def test_overlap_really_overlaps_a_trip_of_the_same_mobile_at_the_other_partner(
        self, fraudulent, kind, other
    ) -> None:
        traffic, by_id, cases = self.cases(fraudulent, kind, "overlap")
        counterpart_traffic = GENERATORS[other].day(TUESDAY, citizens=100, seed=3)
        theirs = {a["event_id"]: a for a in counterpart_traffic.actions}
        for case in cases:
            (mine,) = (by_id[e] for e in case.event_ids)
            assert case.counterpart is not None and case.counterpart[0] == other
            victim = theirs[case.counterpart[1]]
            assert dict(traffic.bindings)[mine["user"]] == dict(counterpart_traffic.bindings)[victim["user"]]
            assert mine["user"] != victim["user"] and case.mobile == dict(traffic.bindings)[mine["user"]]
            assert overlap(mine, victim, as_start=True) and overlap(mine, victim, as_start=False)
            assert kmh(mine) <= MAX_KMH[mine["data"]["mode"]]

    @pytest.mark.parametrize("kind", ["transit", "bike"])
    def test_over_cap_trips_exceed_twelve_a_day_and_label_the_excess(self, fraudulent, kind) -> None:
        _, by_id, cases = self.cases(fraudulent, kind, "over_cap")
        for case in cases:
            trips = sorted((by_id[e] for e in case.related), key=lambda a: a["occurred_at"])
            assert len(trips) == 20 and [a["event_id"] for a in trips[12:]] == list(case.event_ids)
            assert all(not overlap(a, b, True) for a, b in itertools.pairwise(trips))
            assert all(kmh(a) <= MAX_KMH[a["data"]["mode"]] for a in trips) and case.expect == "capped"

    def test_over_cap_waste_is_30_kg_and_labels_the_drops_past_20_kg(self, fraudulent) -> None:
        _, by_id, cases = self.cases(fraudulent, "waste", "over_cap")
        for case in cases:
            drops = [by_id[e] for e in case.related]
            assert sum(d["data"]["weight_g"] for d in drops) == 30_000
            running, past = 0, []
            for drop in drops:
                running += drop["data"]["weight_g"]
                if running > 20_000:
                    past.append(drop["event_id"])
            assert past == list(case.event_ids)

    def test_over_cap_clean_plate_is_five_meals_with_the_second_lunch_and_dinner_labelled(
        self, fraudulent
    ) -> None:
        _, by_id, cases = self.cases(fraudulent, "canteen", "over_cap")
        for case in cases:
            meals = [by_id[e]["data"]["meal"] for e in case.related]
            assert len(meals) == 5 and sorted(meals) == ["breakfast", "dinner", "dinner", "lunch", "lunch"]
            assert [by_id[e]["data"]["meal"] for e in case.event_ids] == ["lunch", "dinner"]

    @pytest.mark.parametrize(
        ("kind", "field"), [("transit", "distance_m"), ("bike", "distance_m"), ("waste", "weight_g")]
    )
    def test_repetition_repeats_one_value_many_times_in_a_day(self, fraudulent, kind, field) -> None:
        _, by_id, cases = self.cases(fraudulent, kind, "repetition")
        for case in cases:
            values = {by_id[e]["data"][field] for e in case.event_ids}
            assert len(case.event_ids) >= 5 and len(values) == 1 and case.expect == "flagged"
            assert len({by_id[e]["user"] for e in case.event_ids}) == 1

    def test_injection_keeps_the_honest_traffic_and_binds_every_fraudster(self, fraudulent) -> None:
        for kind, traffic in fraudulent.items():
            honest = GENERATORS[kind].day(TUESDAY, citizens=100, seed=3)
            ids = {a["event_id"] for a in traffic.actions}
            assert all(a in traffic.actions for a in honest.actions)
            assert len(ids) == len(traffic.actions)
            users = dict(traffic.bindings)
            for case in traffic.fraud:
                assert set(case.event_ids) <= set(case.related) <= ids and users[case.user] == case.mobile

    def test_unsupported_fraud_is_refused(self) -> None:
        traffic = GENERATORS["canteen"].day(TUESDAY, citizens=5)
        with pytest.raises(ValueError, match="speed"):
            inject(traffic, "canteen", ["speed"], day=TUESDAY, citizens=5)

    def test_replay_resends_the_signed_request_byte_for_byte_and_expects_401(self) -> None:
        from partners.sdk import Credentials

        seen: list[tuple[bytes, str]] = []

        def server(request: httpx.Request) -> httpx.Response:
            key = (request.content, request.headers["authorization"])
            if key in seen:
                return httpx.Response(401, json={"type": "https://tanhui.example/problems/replayed-nonce"})
            seen.append(key)
            return httpx.Response(202, json={"results": [], "accepted": 1, "duplicates": 0, "rejected": 0})

        creds = Credentials(partner_id="transit_st", key_id="k1", secret="s3cret")
        action = GENERATORS["transit"].day(TUESDAY, citizens=5).actions[0]
        result = replay_request("http://tanhui.test", creds, [action], transport=httpx.MockTransport(server))
        assert (result.first_status, result.second_status, result.caught) == (202, 401, True)
        assert result.problem_type.endswith("replayed-nonce") and result.event_ids == (action["event_id"],)
        assert 'nonce="' in seen[0][1] and json.loads(seen[0][0]) == {"actions": [action]}


class FakePartnerApi:
    """Just enough of the partner API for the runner: bindings, and batches with duplicate detection."""

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}
        self.accepted: dict[str, dict] = {}
        self.batches: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/v1/partner/bindings":
            created = body["user"] not in self.bound
            self.bound.setdefault(body["user"], body["mobile"])
            return httpx.Response(200, json={"citizen_id": f"c_{body['mobile'][-8:]}", "created": created})
        self.batches.append(len(body["actions"]))
        results = []
        for action in body["actions"]:
            status = "duplicate" if action["event_id"] in self.accepted else "accepted"
            self.accepted[action["event_id"]] = action
            results.append({"event_id": action["event_id"], "status": status})
        count = {s: sum(r["status"] == s for r in results) for s in ("accepted", "duplicate")}
        answer = {
            "results": results,
            "accepted": count["accepted"],
            "duplicates": count["duplicate"],
            "rejected": 0,
        }
        return httpx.Response(202, json=answer)


@pytest.fixture
def api():
    from partners.sdk import Credentials, TanhuiClient

    fake = FakePartnerApi()
    creds = Credentials(partner_id="transit_st", key_id="k1", secret="s3cret")
    with TanhuiClient("http://tanhui.test", creds, transport=httpx.MockTransport(fake)) as client:
        yield fake, client


class TestRunner:
    def test_replay_day_binds_then_sends_1000_action_batches_and_is_idempotent(self, api) -> None:
        fake, client = api
        traffic = GENERATORS["transit"].day(TUESDAY, citizens=1500, seed=1)
        first = replay_day(client, traffic)
        assert len(fake.bound) == first["bindings"] == first["bindings_created"] == 1500
        assert first["accepted"] == len(traffic.actions) > 1000 and max(fake.batches) == 1000
        again = replay_day(client, traffic)
        assert again["bindings_created"] == 0 and again["duplicates"] == len(traffic.actions)
        assert again["actions_per_s"] > 0

    def test_replay_day_reports_the_fraud_labels(self, api) -> None:
        _, client = api
        traffic = inject(GENERATORS["bike"].day(TUESDAY, 20), "bike", ["speed"], day=TUESDAY, citizens=20)
        summary = replay_day(client, traffic)
        assert [case["kind"] for case in summary["fraud"]] == ["speed"]

    def test_run_at_rate_stops_at_its_duration_and_never_repeats_an_event(self, api) -> None:
        fake, client = api
        summary = run_at_rate(client, "transit", TUESDAY, rate=2000, duration=0.5, citizens=100)
        assert summary["seconds"] < 2 and summary["duplicates"] == 0
        assert 0 < summary["actions"] == len(fake.accepted)

    def test_cli_dumps_the_day_as_json_lines(self, capsys) -> None:
        assert (
            main(["waste", "--dump", "--citizens", "20", "--day", "2026-11-24", "--fraud", "over_cap"]) == 0
        )
        lines = capsys.readouterr().out.splitlines()
        assert lines and all(assert_contract_shape(json.loads(line)) is None for line in lines)
