"""/v1/admin/campaigns: administrators create, fund and end campaigns and watch their budgets burn
down; auditors read them; every other caller is refused; bad input is a clear problem and a
refused request changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend import audit
from backend.campaigns.grants import grant_due
from points_engine.certification import SHANGHAI
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem, count_rows
from tests.integration.campaigns.seed import Act, settle

CAMPAIGNS = "/v1/admin/campaigns"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW as each test starts: the platform measures rates against its own clock, and the suite
    may reach this file many minutes after importing it."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


def new_campaign(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "campaign_id": "green-week",
        "name": "Green Week: double points on buses and the metro",
        "applies_to": ["trip.bus", "trip.metro"],
        "regions": ["440507", "440523"],
        "starts_at": (NOW - timedelta(days=2)).isoformat(),
        "ends_at": (NOW + timedelta(days=20)).isoformat(),
        "bonus_percent": 100,
        "budget_points": 10_000,
    }
    body.update(overrides)
    return body


@pytest.fixture
def admin(platform) -> dict[str, str]:
    return bearer(platform)


async def create(http, admin, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await http.post(CAMPAIGNS, json=new_campaign(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def audit_actions(platform) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(e.event.actor, e.event.action, e.event.subject) for e in await audit.page(platform.db)]


class TestCreate:
    async def test_an_admin_creates_a_campaign_and_reads_it_back(self, http, platform, admin):
        created = await create(http, admin)
        assert created == {
            "campaign_id": "green-week",
            "name": "Green Week: double points on buses and the metro",
            "applies_to": ["trip.bus", "trip.metro"],
            "regions": ["440507", "440523"],
            "starts_at": (NOW - timedelta(days=2)).isoformat().replace("+00:00", "Z"),
            "ends_at": (NOW + timedelta(days=20)).isoformat().replace("+00:00", "Z"),
            "bonus_percent": 100,
            "fixed_points": 0,
            "budget_points": 10_000,
            "granted_points": 0,
            "remaining_points": 10_000,
            "status": "active",
            "low_budget": False,
            "burn_per_day": 0,
            "projected_exhaustion_date": None,
            "created_at": created["created_at"],
            "created_by": "op_admin",
            "ended_at": None,
            "days": [],
        }
        assert (await http.get(f"{CAMPAIGNS}/green-week", headers=admin)).json() == created
        assert await audit_actions(platform) == [("op_admin", "campaign.created", "campaign:green-week")]

    async def test_without_an_id_the_campaign_gets_one_of_its_kind(self, http, admin):
        created = await create(http, admin, campaign_id=None)
        assert created["campaign_id"].startswith("cmp_") and len(created["campaign_id"]) == 30

    async def test_times_with_any_offset_are_kept_as_the_same_instant(self, http, admin):
        start = datetime(2026, 12, 1, tzinfo=SHANGHAI)
        created = await create(http, admin, starts_at=start.isoformat(), ends_at="2026-12-02T00:00:00+08:00")
        assert created["starts_at"] == "2026-11-30T16:00:00Z" and created["ends_at"] == "2026-12-01T16:00:00Z"

    async def test_a_second_campaign_of_the_same_id_is_a_conflict(self, http, platform, admin):
        await create(http, admin)
        assert_problem(await http.post(CAMPAIGNS, json=new_campaign(), headers=admin), 409, "campaign-exists")
        assert await count_rows(platform, "campaigns") == 1

    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"applies_to": ["trip.rocket"]}, "invalid-campaign"),
            ({"applies_to": ["bus"]}, "invalid-campaign"),
            ({"applies_to": []}, "invalid-campaign"),
            ({"regions": ["110000"]}, "invalid-campaign"),
            ({"ends_at": (NOW - timedelta(days=3)).isoformat()}, "invalid-campaign"),
            ({"bonus_percent": 0}, "invalid-campaign"),
            ({"bonus_percent": 5000}, "invalid-campaign"),
            ({"fixed_points": -1}, "invalid-campaign"),
            ({"campaign_id": "no spaces"}, "invalid-campaign"),
            ({"campaign_id": "campaign:x"}, "invalid-campaign"),
            ({"name": ""}, "invalid-campaign"),
            ({"starts_at": "2026-12-01T00:00:00"}, "invalid-request"),
            ({"starts_at": "tomorrow"}, "invalid-request"),
            ({"bonus_percent": 1.5}, "invalid-request"),
            ({"bonus_percent": "100"}, "invalid-request"),
            ({"budget_points": 0}, "invalid-request"),
            ({"budget_points": -10}, "invalid-request"),
            ({"budget_points": 10**13}, "invalid-request"),
            ({"budget_points": None}, "invalid-request"),
            ({"surprise": 1}, "invalid-request"),
        ],
    )
    async def test_a_bad_campaign_is_refused_and_nothing_is_created(
        self, http, platform, admin, overrides, code
    ):
        response = await http.post(CAMPAIGNS, json=new_campaign(**overrides), headers=admin)
        assert_problem(response, 422, code)
        assert await count_rows(platform, "campaigns") == 0
        assert await audit_actions(platform) == []

    async def test_a_body_that_is_not_json_is_refused(self, http, admin):
        response = await http.post(
            CAMPAIGNS, content=b"{", headers={**admin, "content-type": "application/json"}
        )
        assert_problem(response, 400, "malformed-json")


class TestFundAndEnd:
    async def test_funding_adds_to_the_budget_and_revives_an_exhausted_campaign(self, http, platform, admin):
        # given: a campaign whose 150 points went to the first two of three bus trips
        await create(http, admin, budget_points=150)
        during = NOW - timedelta(days=1)
        await settle(platform, [Act(f"bus-{n}", "c_a", during + timedelta(minutes=n), 100) for n in range(3)])
        await grant_due(platform)
        exhausted = (await http.get(f"{CAMPAIGNS}/green-week", headers=admin)).json()
        assert (exhausted["status"], exhausted["remaining_points"], exhausted["low_budget"]) == (
            "exhausted",
            0,
            True,
        )
        # when
        response = await http.post(f"{CAMPAIGNS}/green-week/fund", json={"points": 1_000}, headers=admin)
        # then
        assert response.status_code == 200, response.text
        funded = response.json()
        assert (funded["status"], funded["budget_points"], funded["remaining_points"]) == (
            "active",
            1_150,
            1_000,
        )
        assert await grant_due(platform) == 100  # the third trip, which settled while it was dry
        assert (await audit_actions(platform))[-1] == ("op_admin", "campaign.funded", "campaign:green-week")

    async def test_ending_stops_the_campaign_for_good(self, http, platform, admin):
        await create(http, admin)
        response = await http.post(f"{CAMPAIGNS}/green-week/end", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ended" and response.json()["ended_at"] is not None

        await settle(platform, [Act("bus", "c_a", NOW - timedelta(hours=1), 100)])
        assert await grant_due(platform) == 0
        assert_problem(await http.post(f"{CAMPAIGNS}/green-week/end", headers=admin), 409, "campaign-ended")
        refused = await http.post(f"{CAMPAIGNS}/green-week/fund", json={"points": 5}, headers=admin)
        assert_problem(refused, 409, "campaign-ended")
        assert [a for _, a, _ in await audit_actions(platform)] == ["campaign.created", "campaign.ended"]

    @pytest.mark.parametrize("body", [{"points": 0}, {"points": -5}, {"points": 1.5}, {"points": "5"}, {}])
    async def test_a_bad_amount_is_refused_and_changes_nothing(self, http, platform, admin, body):
        before = await create(http, admin)
        assert_problem(
            await http.post(f"{CAMPAIGNS}/green-week/fund", json=body, headers=admin), 422, "invalid-request"
        )
        assert (await http.get(f"{CAMPAIGNS}/green-week", headers=admin)).json() == before

    async def test_funding_beyond_the_largest_budget_is_refused(self, http, admin):
        await create(http, admin, budget_points=10**12 - 1)
        response = await http.post(f"{CAMPAIGNS}/green-week/fund", json={"points": 2}, headers=admin)
        assert_problem(response, 422, "invalid-campaign")

    @pytest.mark.parametrize("action", ["fund", "end"])
    async def test_an_unknown_campaign_is_a_404(self, http, admin, action):
        response = await http.post(f"{CAMPAIGNS}/nope/{action}", json={"points": 5}, headers=admin)
        assert_problem(response, 404, "unknown-campaign")
        assert_problem(await http.get(f"{CAMPAIGNS}/nope", headers=admin), 404, "unknown-campaign")


class TestBurnDown:
    async def test_the_burn_down_shows_each_shanghai_day_the_rate_and_when_the_budget_runs_out(
        self, http, platform, admin
    ):
        # given: 1,000 points granted on each of two days of a campaign running for two days so far
        await create(http, admin)
        await create(http, admin, campaign_id="big", budget_points=1_000_000)
        for day in (2, 1):
            at = NOW - timedelta(days=day) + timedelta(minutes=5)
            acts = [Act(f"d{day}-{n}", f"c_{n}", at, 200) for n in range(5)]
            await settle(platform, acts)
            await grant_due(platform, now=at + timedelta(minutes=1))
        # when
        detail = (await http.get(f"{CAMPAIGNS}/green-week", headers=admin)).json()
        listed = {c["campaign_id"]: c for c in (await http.get(CAMPAIGNS, headers=admin)).json()}
        # then
        days = [
            (NOW - timedelta(days=d) + timedelta(minutes=6)).astimezone(SHANGHAI).date().isoformat()
            for d in (2, 1)
        ]
        assert detail["days"] == [{"day": d, "points": 1_000, "actions": 5} for d in days]
        assert (detail["granted_points"], detail["remaining_points"]) == (2_000, 8_000)
        assert 999 <= detail["burn_per_day"] <= 1_000  # 2,000 points over the two days since the start
        runs_out = (NOW + timedelta(days=8)).astimezone(SHANGHAI).date()
        assert detail["projected_exhaustion_date"] in {str(runs_out), str(runs_out + timedelta(days=1))}
        assert detail["low_budget"] is True  # 8 days left at this rate; the campaign has 20
        assert listed["green-week"]["low_budget"] is True and listed["big"]["low_budget"] is False
        assert "days" not in listed["green-week"]
        assert listed["big"]["remaining_points"] == 1_000_000 - 2_000

    async def test_campaigns_are_listed_newest_first_with_budget_granted_and_remaining(self, http, admin):
        await create(http, admin, campaign_id="first")
        await create(http, admin, campaign_id="second", budget_points=7)
        listed = (await http.get(CAMPAIGNS, headers=admin)).json()
        assert [
            (c["campaign_id"], c["budget_points"], c["granted_points"], c["remaining_points"]) for c in listed
        ] == [
            ("second", 7, 0, 7),
            ("first", 10_000, 0, 10_000),
        ]


CHANGES = [
    ("POST", CAMPAIGNS, new_campaign(campaign_id="other")),
    ("POST", f"{CAMPAIGNS}/green-week/fund", {"points": 5}),
    ("POST", f"{CAMPAIGNS}/green-week/end", None),
]
READS = [CAMPAIGNS, f"{CAMPAIGNS}/green-week"]
NOT_READERS = [c for c in CALLERS if c[0] != "an auditor token"]


class TestAuthorisation:
    @pytest.mark.parametrize(("method", "path", "payload"), CHANGES, ids=[c[1] for c in CHANGES])
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_an_admin_may_change_campaigns(
        self, http, platform, admin, method, path, payload, caller, headers, status, code
    ):
        before = await create(http, admin)
        response = await http.request(method, path, json=payload, headers=headers(platform))
        assert_problem(response, status, code)
        assert await count_rows(platform, "campaigns") == 1
        assert (await http.get(f"{CAMPAIGNS}/green-week", headers=admin)).json() == before

    @pytest.mark.parametrize("path", READS)
    async def test_auditors_read_campaigns(self, http, platform, admin, path):
        await create(http, admin)
        response = await http.get(path, headers=bearer(platform, "auditor"))
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("path", READS)
    @pytest.mark.parametrize(
        ("caller", "headers", "status", "code"), NOT_READERS, ids=[c[0] for c in NOT_READERS]
    )
    async def test_no_one_else_reads_them(self, http, platform, admin, path, caller, headers, status, code):
        await create(http, admin)
        assert_problem(await http.get(path, headers=headers(platform)), status, code)
