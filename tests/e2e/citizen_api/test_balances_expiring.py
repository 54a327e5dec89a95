"""GET /v1/citizen/balances: of the available points, what expires within 30 days and when, before
and after the expiry sweep, over real HTTP at the real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.expiry import sweep
from points_engine.expiry import expires_at, shanghai_date
from tests.e2e.citizen_api.conftest import citizen_headers
from tests.factories import make_partner, mobile, sdk
from tests.integration.expiry.ledger import earn, reserve

BALANCES = "/v1/citizen/balances"


def _gone_on(arrived: datetime) -> str:
    return shanghai_date(expires_at(arrived, 24)).isoformat()


async def _citizen(platform, app) -> str:
    async with sdk(app, await make_partner(platform, "transit_st")) as transit:
        return (await transit.bind("wx_alice", mobile(1))).citizen_id


class TestBalancesExpiring:
    async def test_points_within_30_days_of_their_end_are_expiring_and_the_first_date_is_shown(
        self, http, platform, app
    ):
        """Three lots: one past its 24 months (not swept yet), one ending in about 10 days, one
        in about a year. The first two are expiring; the sweep then takes the first."""
        # given
        citizen = await _citizen(platform, app)
        now = datetime.now(UTC)
        overdue, soon, later = now - timedelta(days=740), now - timedelta(days=720), now - timedelta(days=365)
        await earn(platform, citizen, 1_000, overdue)
        await earn(platform, citizen, 200, soon, "nanao")
        await earn(platform, citizen, 30, later)
        headers = citizen_headers(platform, citizen)
        # when
        before = (await http.get(BALANCES, headers=headers)).json()
        await sweep(platform)
        after = (await http.get(BALANCES, headers=headers)).json()
        # then
        assert before == {
            "pending": 0,
            "available": 1_230,
            "held": 0,
            "expiring": 1_200,
            "next_expiry": {"on": _gone_on(overdue), "points": 1_000},
        }
        assert after == {
            "pending": 0,
            "available": 230,
            "held": 0,
            "expiring": 200,
            "next_expiry": {"on": _gone_on(soon), "points": 200},
        }

    async def test_spent_and_held_points_are_not_expiring(self, http, platform, app):
        citizen = await _citizen(platform, app)
        soon = datetime.now(UTC) - timedelta(days=720)
        await earn(platform, citizen, 200, soon)
        await earn(platform, citizen, 50, soon + timedelta(days=200))
        await reserve(platform, citizen, 150, soon + timedelta(days=300))  # the oldest points first
        response = await http.get(BALANCES, headers=citizen_headers(platform, citizen))
        assert response.status_code == 200, response.text
        assert response.json() == {
            "pending": 0,
            "available": 100,
            "held": 150,
            "expiring": 50,
            "next_expiry": {"on": _gone_on(soon), "points": 50},
        }

    async def test_nothing_expiring_is_zero_and_no_date(self, http, platform, app):
        citizen = await _citizen(platform, app)
        await earn(platform, citizen, 75, datetime.now(UTC) - timedelta(days=30))
        body = (await http.get(BALANCES, headers=citizen_headers(platform, citizen))).json()
        assert (body["available"], body["expiring"], body["next_expiry"]) == (75, 0, None)
