"""GET /v1/citizen/history: the citizen's own settled actions newest first, filtered by type and
Shanghai month, in keyset pages, each naming the run that certified it."""

from __future__ import annotations

import pytest

from points_engine.certification import Period
from tests.e2e.citizen_api.conftest import World, citizen_headers, walk
from tests.e2e.partner_api.test_signing import assert_problem
from tests.integration.certification.seed import Seeded

HISTORY = "/v1/citizen/history"


def expected(world: World, citizen_id: str, items: list[Seeded]) -> list[dict[str, object]]:
    certified = {(i.partner_id, i.event_id) for i in world.certified(citizen_id)}
    ordered = sorted(items, key=lambda i: (i.partner_id, i.event_id))
    ordered.sort(key=lambda i: i.occurred_at, reverse=True)
    return [
        {
            "partner_id": i.partner_id,
            "event_id": i.event_id,
            "type": i.type,
            "occurred_at": i.occurred_at.isoformat().replace("+00:00", "Z"),
            "status": i.status,
            "reduction_g": i.reduction_g,
            "points": i.points,
            "reasons": ["repetition-review"] if i.flagged else [],
            "methodology": i.methodology,
            "book": i.book,
            "certified_run_id": world.run.run_id if (i.partner_id, i.event_id) in certified else None,
        }
        for i in ordered
    ]


BAD_QUERIES = [
    ("a month that is not YYYY-MM", "month=2026-13"),
    ("a month in words", "month=november"),
    ("a year out of range", "month=1999-01"),
    ("an unknown type", "type=teleport"),
    ("a limit of 0", "limit=0"),
    ("a limit of 101", "limit=101"),
    ("a limit that is not a number", "limit=ten"),
    ("a cursor that is not one", "after=not-a-cursor"),
    ("a cursor of valid base64 but no key", "after=WzEsMiwzXQ"),
]


class TestHistory:
    async def test_the_whole_history_is_the_citizens_own_actions_newest_first(self, http, platform, world):
        for citizen in (world.alice, world.bob):
            response = await http.get(f"{HISTORY}?limit=100", headers=citizen_headers(platform, citizen))
            assert response.status_code == 200, response.text
            assert response.json() == {"items": expected(world, citizen, world.of(citizen)), "next": None}

    @pytest.mark.parametrize("limit", [1, 2, 5])
    async def test_pages_follow_each_other_without_gap_or_repeat(self, http, platform, world, limit):
        items = await walk(http, HISTORY, citizen_headers(platform, world.alice), limit)
        assert items == expected(world, world.alice, world.of(world.alice))

    async def test_actions_at_the_same_instant_are_ordered_by_partner_and_event(self, http, platform, world):
        items = await walk(http, HISTORY, citizen_headers(platform, world.alice), 1)
        same = [
            (i["partner_id"], i["event_id"])
            for i in items
            if i["occurred_at"] == "2026-11-03T06:05:06.789000Z"
        ]
        assert same == [("bike_st", "a-010"), ("transit_st", "a-011")]

    async def test_a_type_filter_keeps_only_that_type(self, http, platform, world):
        items = await walk(http, HISTORY, citizen_headers(platform, world.alice), 2, "&type=waste_sorting")
        mine = [i for i in world.of(world.alice) if i.type == "waste_sorting"]
        assert items == expected(world, world.alice, mine) and len(items) == 1

    @pytest.mark.parametrize("month", ["2026-10", "2026-11", "2026-12"])
    async def test_a_month_is_a_month_in_shanghai(self, http, platform, world, month):
        period = Period.parse(month)
        items = await walk(http, HISTORY, citizen_headers(platform, world.alice), 3, f"&month={month}")
        mine = [i for i in world.of(world.alice) if period.start <= i.occurred_at < period.end]
        assert items == expected(world, world.alice, mine)
        if month == "2026-10":
            assert [i["event_id"] for i in items] == ["a-013"]  # 31 Oct 23:00 Shanghai; a-012 is 1 Nov

    @pytest.mark.parametrize(("case", "query"), BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
    async def test_a_bad_query_is_an_invalid_request(self, http, platform, world, case, query):
        response = await http.get(f"{HISTORY}?{query}", headers=citizen_headers(platform, world.alice))
        assert_problem(response, 422, "invalid-request")

    async def test_a_citizen_without_actions_has_an_empty_history(self, http, platform, world):
        response = await http.get(HISTORY, headers=citizen_headers(platform, "c_nobody"))
        assert response.json() == {"items": [], "next": None}
