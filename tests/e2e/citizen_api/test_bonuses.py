"""GET /v1/citizen/bonuses: the citizen's own campaign bonuses, newest first, in keyset pages, each
naming its campaign and the action that earned it; the points are available at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.campaigns import admin
from backend.campaigns.grants import grant_due
from tests.e2e.citizen_api.conftest import citizen_headers, walk
from tests.e2e.citizen_api.test_authorisation import CALLERS
from tests.e2e.partner_api.test_signing import assert_problem
from tests.factories import make_partner, mobile, sdk
from tests.integration.campaigns.seed import Act, settle

BONUSES = "/v1/citizen/bonuses"
START = datetime(2026, 9, 21, 16, 0, tzinfo=UTC)  # Car-Free Day, 22 September in Shanghai
DURING = START + timedelta(hours=9)
FIRST_PASS = START + timedelta(days=1)
SECOND_PASS = FIRST_PASS + timedelta(hours=1)


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def campaign(platform: Any, campaign_id: str, name: str, **rule: Any) -> None:
    await admin.create_campaign(
        platform,
        campaign_id=campaign_id,
        name=name,
        applies_to=rule.pop("applies_to", ["trip.bus"]),
        regions=[],
        starts_at=START,
        ends_at=START + timedelta(days=1),
        bonus_percent=rule.pop("bonus_percent", 100),
        fixed_points=rule.pop("fixed_points", 0),
        budget_points=1_000_000,
        actor="op_admin",
    )


@pytest.fixture
async def people(platform, app) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Alice and Bob, bound at the transit operator; Alice earned bonuses in two passes of the
    granter, from two campaigns; Bob from one."""
    transit = await make_partner(platform, "transit_st")
    async with sdk(app, transit) as t:
        alice = (await t.bind("wx_alice", mobile(1))).citizen_id
        bob = (await t.bind("wx_bob", mobile(2))).citizen_id
    await campaign(platform, "car-free-day", "Car-Free Day")
    await campaign(
        platform, "every-trip", "Every trip counts", applies_to=["trip"], bonus_percent=0, fixed_points=7
    )
    await settle(
        platform,
        [
            Act("a-1", alice, DURING, 140),
            Act("a-2", alice, DURING + timedelta(minutes=30), 90, kind="bike"),
            Act("b-1", bob, DURING, 200),
        ],
    )
    await grant_due(platform, now=FIRST_PASS)
    await settle(platform, [Act("a-3", alice, DURING + timedelta(hours=1), 60)])
    await grant_due(platform, now=SECOND_PASS)
    return alice, bob


def item(campaign_id: str, name: str, event_id: str, at: datetime, points: int, granted: datetime) -> Any:
    return {
        "campaign_id": campaign_id,
        "campaign_name": name,
        "partner_id": "transit_st",
        "event_id": event_id,
        "type": "trip",
        "occurred_at": z(at),
        "points": points,
        "granted_at": z(granted),
    }


ALICE = [
    item("car-free-day", "Car-Free Day", "a-3", DURING + timedelta(hours=1), 60, SECOND_PASS),
    item("every-trip", "Every trip counts", "a-3", DURING + timedelta(hours=1), 7, SECOND_PASS),
    item("car-free-day", "Car-Free Day", "a-1", DURING, 140, FIRST_PASS),
    item("every-trip", "Every trip counts", "a-1", DURING, 7, FIRST_PASS),
    item("every-trip", "Every trip counts", "a-2", DURING + timedelta(minutes=30), 7, FIRST_PASS),
]


class TestBonuses:
    async def test_a_citizen_sees_their_own_bonuses_newest_grant_first(self, http, platform, people):
        alice, bob = people
        response = await http.get(BONUSES, headers=citizen_headers(platform, alice))
        assert response.status_code == 200, response.text
        assert response.json() == {"items": ALICE, "next": None}
        bobs = (await http.get(BONUSES, headers=citizen_headers(platform, bob))).json()["items"]
        assert [(b["campaign_id"], b["event_id"], b["points"]) for b in bobs] == [
            ("car-free-day", "b-1", 200),
            ("every-trip", "b-1", 7),
        ]

    @pytest.mark.parametrize("limit", [1, 2, 3])
    async def test_pages_follow_each_other_without_gap_or_repeat(self, http, platform, people, limit):
        assert await walk(http, BONUSES, citizen_headers(platform, people[0]), limit) == ALICE

    async def test_bonus_points_are_available_to_spend_at_once(self, http, platform, people):
        alice, _ = people
        balances = (await http.get("/v1/citizen/balances", headers=citizen_headers(platform, alice))).json()
        assert balances["available"] == sum(i["points"] for i in ALICE)
        assert balances["pending"] == 140 + 90 + 60  # the actions' own points await certification

    async def test_a_citizen_without_bonuses_sees_an_empty_list(self, http, platform, people):
        response = await http.get(BONUSES, headers=citizen_headers(platform, "c_nobody"))
        assert response.json() == {"items": [], "next": None}

    @pytest.mark.parametrize(
        "query",
        ["limit=0", "limit=101", "limit=ten", "after=not-a-cursor", "after=WzEsMiwzXQ"],
    )
    async def test_bad_queries_are_refused(self, http, platform, people, query):
        response = await http.get(f"{BONUSES}?{query}", headers=citizen_headers(platform, people[0]))
        assert_problem(response, 422, "invalid-request")

    async def test_a_cursor_of_another_list_is_refused(self, http, platform, people):
        history = (
            await http.get("/v1/citizen/history?limit=1", headers=citizen_headers(platform, people[0]))
        ).json()
        response = await http.get(
            f"{BONUSES}?after={history['next']}", headers=citizen_headers(platform, people[0])
        )
        assert_problem(response, 422, "invalid-request")

    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_a_citizen_token_reads_bonuses(
        self, http, platform, people, caller, headers, status, code
    ):
        assert_problem(await http.get(BONUSES, headers=headers(platform, people[0])), status, code)
