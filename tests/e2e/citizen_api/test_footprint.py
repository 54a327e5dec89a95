"""GET /v1/citizen/footprint: grams reduced by the citizen's eligible actions, by type and by
Shanghai month, with whole-number everyday equivalents."""

from __future__ import annotations

from points_engine.certification import Period
from tests.e2e.citizen_api.conftest import citizen_headers

FOOTPRINT = "/v1/citizen/footprint"


class TestFootprint:
    async def test_the_footprint_counts_only_the_citizens_eligible_reductions(self, http, platform, world):
        for citizen in (world.alice, world.bob):
            eligible = [i for i in world.of(citizen) if i.eligible]
            total = sum(i.reduction_g for i in eligible)
            by_type: dict[str, int] = {}
            by_month: dict[str, int] = {}
            for i in eligible:
                by_type[i.type] = by_type.get(i.type, 0) + i.reduction_g
                month = str(Period.containing(i.occurred_at))
                by_month[month] = by_month.get(month, 0) + i.reduction_g
            response = await http.get(FOOTPRINT, headers=citizen_headers(platform, citizen))
            assert response.status_code == 200, response.text
            assert response.json() == {
                "reduction_g": total,
                "actions": len(eligible),
                "by_type": by_type | {},
                "by_month": [{"month": m, "reduction_g": g} for m, g in sorted(by_month.items())],
                "equivalents": {"petrol_car_km": total // 170, "tree_days": total * 365 // 20_000},
            }

    async def test_flagged_rejected_and_zero_gram_actions_do_not_count(self, http, platform, world):
        footprint = (await http.get(FOOTPRINT, headers=citizen_headers(platform, world.alice))).json()
        counted = sum(i.reduction_g for i in world.of(world.alice)) - 60_000  # a-014 is flagged
        assert footprint["reduction_g"] == counted
        assert footprint["by_month"][0] == {"month": "2026-10", "reduction_g": 40_000}

    async def test_a_citizen_without_reductions_has_zero_everywhere(self, http, platform, world):
        footprint = (await http.get(FOOTPRINT, headers=citizen_headers(platform, "c_nobody"))).json()
        assert footprint == {
            "reduction_g": 0,
            "actions": 0,
            "by_type": {},
            "by_month": [],
            "equivalents": {"petrol_car_km": 0, "tree_days": 0},
        }
