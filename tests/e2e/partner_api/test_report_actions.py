"""POST /v1/partner/actions through the SDK: per-item results, idempotency, durability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.models import AcceptedAction
from partners.sdk import ApiError
from tests.factories import CITY, make_partner, mobile, sdk, trip


async def count_actions(platform) -> int:  # type: ignore[no-untyped-def]
    async with platform.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(AcceptedAction))).scalar_one())


@pytest.fixture
async def partner(platform, app):  # type: ignore[no-untyped-def]
    creds = await make_partner(platform)
    async with sdk(app, creds) as client:
        await client.bind("wx_user_1", mobile(1))
        yield client


class TestReportActions:
    async def test_accepted_action_is_stored_durably_with_its_citizen_and_book(self, partner, platform):
        result = await partner.report([trip(event_id="bus-1"), trip(event_id="nanao-1", region="440523")])
        assert (result.accepted, result.duplicates, result.rejected) == (2, 0, 0)
        async with platform.db.read() as conn:
            rows = {r.event_id: r for r in await conn.execute(select(AcceptedAction))}
        assert rows["bus-1"].book == "shantou" and rows["nanao-1"].book == "nanao"
        assert rows["bus-1"].citizen_id.startswith("c_")
        assert rows["bus-1"].data == {"mode": "bus", "distance_m": 5200, "duration_s": 1380}

    async def test_retry_of_the_same_batch_is_all_duplicates_and_stores_nothing_new(self, partner, platform):
        batch = [trip(), trip()]
        await partner.report(batch)
        again = await partner.report(batch)
        assert [r.status for r in again.results] == ["duplicate", "duplicate"]
        assert await count_actions(platform) == 2

    async def test_new_actions_beside_stored_ones_are_accepted_and_the_stored_ones_are_duplicates(
        self, partner, platform
    ):
        # (on PostgreSQL the batch's plain insert fails on the stored one, and it runs again with
        # ON CONFLICT: nothing of the first attempt may stay or be reported)
        stored = trip(event_id="bus-old")
        await partner.report([stored])
        result = await partner.report_batch([trip(event_id="bus-new-1"), stored, trip(event_id="bus-new-2")])
        assert [r.status for r in result.results] == ["accepted", "duplicate", "accepted"]
        assert await count_actions(platform) == 3

    async def test_same_event_id_with_different_body_is_a_conflict(self, partner, platform):
        first = trip(event_id="bus-x")
        await partner.report([first])
        changed = {**first, "data": {**first["data"], "distance_m": 9999}}
        result = await partner.report([changed])
        assert result.results[0].status == "rejected"
        assert result.results[0].problem["type"].endswith("/event-conflict")
        assert result.results[0].problem["status"] == 409
        assert await count_actions(platform) == 1

    async def test_same_instant_with_another_offset_is_the_same_content(self, partner):
        first = trip(event_id="bus-tz", occurred_at="2026-11-24T08:15:00+08:00")
        first["occurred_at"] = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
        utc_z = first["occurred_at"].replace("+00:00", "Z")
        await partner.report([first])
        result = await partner.report([{**first, "occurred_at": utc_z}])
        assert result.results[0].status == "duplicate"

    async def test_repeated_event_id_inside_one_batch_is_accepted_once(self, partner, platform):
        a = trip(event_id="bus-dup")
        b = {**a, "data": {**a["data"], "distance_m": 1}}
        result = await partner.report_batch([a, a, b])
        assert [r.status for r in result.results] == ["accepted", "duplicate", "rejected"]
        assert result.results[2].problem["type"].endswith("/event-conflict")
        assert await count_actions(platform) == 1

    async def test_one_bad_action_rejects_only_itself(self, partner, platform):
        bad = trip(data={"mode": "bus", "distance_m": -5, "duration_s": 60})
        result = await partner.report_batch([trip(), bad, trip()])
        assert [r.status for r in result.results] == ["accepted", "rejected", "accepted"]
        assert result.results[1].problem["type"].endswith("/invalid-action")
        assert result.results[1].problem["pointer"] == "/actions/1"
        assert await count_actions(platform) == 2

    async def test_a_full_batch_of_1000_is_accepted(self, partner, platform):
        result = await partner.report_batch([trip() for _ in range(1000)])
        assert result.accepted == 1000
        assert await count_actions(platform) == 1000


CASES = [
    ("zero distance", {"data": {"mode": "bus", "distance_m": 0, "duration_s": 60}}, "invalid-action", 422),
    (
        "negative weight",
        {"type": "waste_sorting", "data": {"category": "kitchen", "weight_g": -1, "station_id": "s1"}},
        "invalid-action",
        422,
    ),
    ("float distance", {"data": {"mode": "bus", "distance_m": 1.5, "duration_s": 60}}, "invalid-action", 422),
    ("unknown mode", {"data": {"mode": "rocket", "distance_m": 10, "duration_s": 60}}, "invalid-action", 422),
    ("unknown type", {"type": "teleport"}, "unknown-type", 422),
    ("region outside Shantou", {"region": "440104"}, "unknown-region", 422),
    ("region not permitted", {"region": "440523"}, "forbidden-region", 403),
    ("occurred_at without offset", {"occurred_at": "2026-11-24T08:15:00"}, "invalid-action", 422),
    (
        "occurred_at in the future",
        # a day ahead: computed when the tests are collected, it must stay ahead however long they run
        {"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        "occurred-at-out-of-window",
        422,
    ),
    (
        "occurred_at older than 7 days",
        {"occurred_at": (datetime.now(UTC) - timedelta(days=8)).isoformat()},
        "occurred-at-out-of-window",
        422,
    ),
    ("unbound user", {"user": "nobody"}, "unbound-user", 422),
    ("bad event id", {"event_id": "has space"}, "invalid-action", 422),
    ("unknown field", {"colour": "green"}, "invalid-action", 422),
]


@pytest.mark.parametrize(("case", "override", "code", "status"), CASES, ids=[c[0] for c in CASES])
async def test_bad_action_is_rejected_with_its_problem_and_stores_nothing(
    platform, app, case, override, code, status
):
    creds = await make_partner(platform, types=["trip", "waste_sorting"], regions=CITY)
    async with sdk(app, creds) as client:
        await client.bind("wx_user_1", mobile(1))
        result = await client.report_batch([trip(**override)])
    item = result.results[0]
    assert item.status == "rejected", case
    assert item.problem["type"] == f"https://tanhui.example/problems/{code}"
    assert item.problem["status"] == status
    assert await count_actions(platform) == 0


async def test_type_not_permitted_is_forbidden(platform, app):
    creds = await make_partner(platform, types=["trip"])
    async with sdk(app, creds) as client:
        await client.bind("wx_user_1", mobile(1))
        meal = trip(type="clean_plate", data={"canteen_id": "c1", "meal": "lunch", "verified_by": "staff"})
        result = await client.report_batch([meal])
    assert result.results[0].problem["type"].endswith("/forbidden-type")
    assert result.results[0].problem["status"] == 403


async def test_outcome_of_an_accepted_action_is_pending_until_settled(partner):
    await partner.report([trip(event_id="bus-o1")])
    outcome = await partner.outcome("bus-o1")
    assert outcome.status == "pending"
    assert outcome.citizen_id.startswith("c_") and outcome.book == "shantou"


async def test_outcome_of_an_unknown_action_is_404(partner):
    with pytest.raises(ApiError) as err:
        await partner.outcome("never-sent")
    assert err.value.status == 404 and err.value.type.endswith("/action-not-found")


async def test_another_partner_cannot_see_my_action(platform, app, partner):
    await partner.report([trip(event_id="bus-mine")])
    other = await make_partner(platform, "bike_st")
    async with sdk(app, other) as client:
        with pytest.raises(ApiError) as err:
            await client.outcome("bus-mine")
    assert err.value.status == 404
