"""Granting campaign bonuses against the real database: which settled actions earn one, a budget
that stops exactly, each outcome looked at once, a crash that leaves nothing half done, and
concurrent granters that give what one gives."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from backend.campaigns import admin, grants
from backend.campaigns.grants import grant_campaign, grant_due
from backend.campaigns.store import WATERMARKS
from backend.db import Database
from backend.models import LedgerTransaction
from points_engine.ledger import bonus_tx
from tests.integration.campaigns.seed import Act, assert_budget_invariant, campaign_row, settle
from tests.integration.campaigns.seed import grants as granted
from tests.integration.certification.seed import balance

START = datetime(2026, 9, 21, 16, 0, tzinfo=UTC)  # Car-Free Day, 22 September in Shanghai
END = START + timedelta(days=1)
DURING = START + timedelta(hours=9)
NOW = START + timedelta(days=2)
CLOSED = END + timedelta(days=8, seconds=1)  # 7 days of late reports and a day of grace later
CITIZENS = [f"c_{n:02d}" for n in range(12)]


async def car_free_day(platform: Any, **overrides: Any) -> str:
    spec: dict[str, Any] = {
        "campaign_id": "car-free-day",
        "name": "Car-Free Day",
        "applies_to": ["trip.bus", "trip.metro"],
        "regions": [],
        "starts_at": START,
        "ends_at": END,
        "bonus_percent": 100,
        "fixed_points": 0,
        "budget_points": 1_000_000,
    }
    spec.update(overrides)
    created = await admin.create_campaign(platform, **spec, actor="op_admin")
    return created.campaign_id


def trips(n: int, *, prefix: str = "ev", points: int = 100, **overrides: Any) -> list[Act]:
    """``n`` bus trips during the campaign, spread over the citizens (so over the partitions)."""
    return [
        Act(
            f"{prefix}-{i:04d}",
            CITIZENS[i % len(CITIZENS)],
            DURING + timedelta(minutes=i),
            points,
            **overrides,
        )
        for i in range(n)
    ]


async def available(platform: Any, citizen_id: str) -> int:
    return await balance(platform, f"citizen:{citizen_id}:available")


class TestWhichActionsEarnABonus:
    async def test_matching_type_kind_region_and_window_earn_and_nothing_else_does(self, platform):
        # given
        await car_free_day(platform, regions=["440507", "440523"])
        earning = [
            Act("bus", "c_a", DURING, 140),
            Act("metro", "c_a", DURING, 300, kind="metro"),
            Act("nanao", "c_b", DURING, 90, region="440523"),
            Act("first-instant", "c_b", START, 50),
            Act("capped-partly", "c_c", DURING, 70, status="capped"),
        ]
        not_earning = [
            Act("bike", "c_a", DURING, 120, kind="bike"),
            Act("other-region", "c_a", DURING, 100, region="440511"),
            Act("before", "c_b", START - timedelta(seconds=1), 100),
            Act("at-the-end", "c_b", END, 100),
            Act("waste", "c_c", DURING, 100, type="waste_sorting", kind="kitchen"),
            Act("rejected", "c_c", DURING, 0, status="rejected"),
            Act("capped-to-zero", "c_c", DURING, 0, status="capped"),
            Act("flagged", "c_c", DURING, 100, flagged=True),
        ]
        await settle(platform, earning + not_earning)
        # when
        total = await grant_due(platform, now=NOW)
        # then
        assert await granted(platform, "car-free-day") == {a.key: a.points for a in earning}
        assert (
            total == sum(a.points for a in earning) == await assert_budget_invariant(platform, "car-free-day")
        )
        assert await available(platform, "c_a") == 440
        assert await available(platform, "c_c") == 70

    async def test_bonus_points_are_available_at_once_and_leave_pending_points_alone(self, platform):
        await car_free_day(platform, bonus_percent=50, fixed_points=5)
        await settle(platform, [Act("bus", "c_a", DURING, 141)])
        await grant_due(platform, now=NOW)
        assert await available(platform, "c_a") == 70 + 5
        assert await balance(platform, "citizen:c_a:pending") == 141
        tx = bonus_tx("car-free-day", "c_a", "transit_st/bus", 75)
        async with platform.db.read() as conn:
            row = (
                await conn.execute(select(LedgerTransaction).where(LedgerTransaction.tx_id == tx.tx_id))
            ).one()
        assert (row.kind, row.debit, row.credit, row.amount) == (
            "bonus",
            "campaign:car-free-day",
            "citizen:c_a:available",
            75,
        )

    async def test_an_action_earning_no_points_earns_the_fixed_bonus(self, platform):
        await car_free_day(
            platform,
            campaign_id="hazardous",
            applies_to=["waste_sorting.hazardous"],
            bonus_percent=0,
            fixed_points=50,
        )
        await settle(platform, [Act("battery", "c_a", DURING, 0, type="waste_sorting", kind="hazardous")])
        await grant_due(platform, now=NOW)
        assert await granted(platform, "hazardous") == {("transit_st", "battery"): 50}

    async def test_each_campaign_an_action_matches_grants_its_own_bonus(self, platform):
        await car_free_day(platform)
        await car_free_day(
            platform, campaign_id="all-trips", applies_to=["trip"], bonus_percent=0, fixed_points=10
        )
        await settle(platform, [Act("bus", "c_a", DURING, 140)])
        await grant_due(platform, now=NOW)
        assert await granted(platform, "car-free-day") == {("transit_st", "bus"): 140}
        assert await granted(platform, "all-trips") == {("transit_st", "bus"): 10}
        assert await available(platform, "c_a") == 150


class TestBudget:
    async def test_the_budget_stops_exactly_and_the_last_grant_gets_what_was_left(self, platform):
        # given: 250 points of budget, actions earning 100 each, settled one after the other
        await car_free_day(platform, budget_points=250)
        for act in trips(5):
            await settle(platform, [act])
        # when
        assert await grant_due(platform, now=NOW) == 250
        # then
        assert sorted((await granted(platform, "car-free-day")).values()) == [50, 100, 100]
        assert set(await granted(platform, "car-free-day")) == {a.key for a in trips(3)}
        row = await campaign_row(platform, "car-free-day")
        assert (row.status, row.granted_points) == ("exhausted", 250)
        assert await assert_budget_invariant(platform, "car-free-day") == 250
        assert await grant_due(platform, now=NOW) == 0

    async def test_funding_an_exhausted_campaign_resumes_with_what_settled_while_it_was_dry(self, platform):
        await car_free_day(platform, budget_points=250)
        for act in trips(3):
            await settle(platform, [act])
        await grant_due(platform, now=NOW)
        later = trips(2, prefix="later")
        await settle(platform, later)
        await grant_due(platform, now=NOW)
        assert len(await granted(platform, "car-free-day")) == 3

        await admin.fund_campaign(platform, "car-free-day", 1_000, actor="op_admin", now=NOW)
        assert await grant_due(platform, now=NOW) == 200

        got = await granted(platform, "car-free-day")
        assert got[trips(3)[2].key] == 50  # clipped once, not topped up
        assert all(got[a.key] == 100 for a in later)
        assert (await campaign_row(platform, "car-free-day")).status == "active"
        assert await assert_budget_invariant(platform, "car-free-day") == 450

    async def test_an_ended_campaign_grants_nothing(self, platform):
        await car_free_day(platform)
        await settle(platform, trips(2))
        await admin.end_campaign(platform, "car-free-day", actor="op_admin")
        assert await grant_due(platform, now=NOW) == 0
        assert await granted(platform, "car-free-day") == {}

    async def test_a_campaign_ends_once_late_reports_of_its_window_can_no_longer_settle(self, platform):
        await car_free_day(platform)
        await settle(platform, trips(2))
        await grant_due(platform, now=NOW)
        assert (await campaign_row(platform, "car-free-day")).status == "active"
        late = trips(1, prefix="late")
        await settle(platform, late)
        assert await grant_due(platform, now=CLOSED) == 100  # what settled in time is still granted
        row = await campaign_row(platform, "car-free-day")
        assert (row.status, row.ended_at) == ("ended", CLOSED)


class TestOnce:
    async def test_a_second_pass_grants_nothing_and_later_settlements_are_granted_once(self, platform):
        await car_free_day(platform)
        await settle(platform, trips(20))
        assert await grant_due(platform, now=NOW) == 2_000
        assert await grant_due(platform, now=NOW) == 0
        await settle(platform, trips(5, prefix="more"))
        assert await grant_due(platform, now=NOW) == 500
        assert len(await granted(platform, "car-free-day")) == 25
        assert await assert_budget_invariant(platform, "car-free-day") == 2_500

    async def test_losing_the_watermarks_grants_nothing_twice(self, platform):
        await car_free_day(platform)
        await settle(platform, trips(20))
        await grant_due(platform, now=NOW)
        before = {c: await available(platform, c) for c in CITIZENS}
        async with platform.db.transaction() as tx:
            await tx.conn.execute(delete(WATERMARKS))
        assert await grant_due(platform, now=NOW) == 0
        assert {c: await available(platform, c) for c in CITIZENS} == before
        assert await assert_budget_invariant(platform, "car-free-day") == 2_000

    async def test_small_batches_grant_what_one_batch_grants(self, platform):
        await car_free_day(platform)
        await car_free_day(platform, campaign_id="twin")
        for part in range(4):
            await settle(platform, trips(10, prefix=f"p{part}"))
        await grant_campaign(platform, "car-free-day", now=NOW, batch=10_000)
        await grant_campaign(platform, "twin", now=NOW, batch=1)
        assert await granted(platform, "twin") == await granted(platform, "car-free-day")

    async def test_a_failure_in_the_middle_of_a_batch_leaves_nothing_of_it(self, platform, monkeypatch):
        await car_free_day(platform)
        await settle(platform, trips(10))
        real_post = grants.post

        async def post_then_crash(*args: Any) -> int:
            await real_post(*args)
            raise RuntimeError("the worker died here")

        monkeypatch.setattr(grants, "post", post_then_crash)
        with pytest.raises(RuntimeError):
            await grant_due(platform, now=NOW)
        assert await granted(platform, "car-free-day") == {}
        assert await balance(platform, "campaign:car-free-day") == 0
        async with platform.db.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(WATERMARKS))).scalar_one() == 0
        assert (await campaign_row(platform, "car-free-day")).granted_points == 0

        monkeypatch.setattr(grants, "post", real_post)
        assert await grant_due(platform, now=NOW) == 1_000
        assert await assert_budget_invariant(platform, "car-free-day") == 1_000


async def keep_granting(platform: Any, campaign_id: str) -> None:
    """A worker's loop, fast: a granter that finds the campaign busy tries again."""
    for _ in range(40):
        await grant_campaign(platform, campaign_id, now=NOW, batch=1)
        await asyncio.sleep(0.001)


async def _connected(db: Database) -> None:
    async with db.read() as conn:
        await conn.execute(select(1))
        await asyncio.sleep(0.05)  # held, so that the two calls open two connections


class TestConcurrentGranters:
    async def test_two_granters_at_once_give_what_one_gives(self, platform, settings, monkeypatch):
        """Two engines (as two worker processes would have) grant one campaign in small batches at
        the same time; its twin is granted by one. The budget runs out in the middle."""
        # given
        workers: list[str] = []
        both_granted = asyncio.Event()
        real_batch = grants._grant_batch

        async def batch_of(p: Any, tx: Any, campaign_id: str, *args: Any) -> grants.Step:
            me = "first" if p is platform else "second"
            if campaign_id == "twin" and not p.db.is_sqlite and set(workers) == {me}:
                # Hand over once, before taking the lock: the engine that granted a batch could
                # otherwise take every batch in turn (seen in CI: five of five), and the race
                # between the two would not be tested.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(both_granted.wait(), 5)
            step = await real_batch(p, tx, campaign_id, *args)
            if step.points and campaign_id == "twin":
                workers.append(me)
                if len(set(workers)) == 2:
                    both_granted.set()
            return step

        monkeypatch.setattr(grants, "_grant_batch", batch_of)
        await car_free_day(platform, budget_points=2_345)
        await car_free_day(platform, campaign_id="twin", budget_points=2_345)
        for part in range(6):
            await settle(platform, trips(8, prefix=f"p{part}", points=60 + part))
        other = dataclasses.replace(platform, db=Database(settings.effective_database_url))
        try:
            # Both of the second engine's connections open before the race: connecting takes longer
            # than the five batches this budget lasts, and under load it lost every one of them.
            await asyncio.gather(*(_connected(other.db) for _ in range(2)))
            # when
            await grant_campaign(platform, "car-free-day", now=NOW, batch=1)
            await asyncio.gather(*(keep_granting(p, "twin") for p in (other, platform, other, platform)))
        finally:
            await other.db.dispose()
        # then
        one = await granted(platform, "car-free-day")
        assert await granted(platform, "twin") == one
        assert sum(one.values()) == 2_345
        assert await assert_budget_invariant(platform, "twin") == 2_345
        if not platform.db.is_sqlite:  # SQLite has one writer: who waits longest is up to it
            assert {"first", "second"} <= set(workers), workers  # both engines granted batches


class TestACampaignCreatedAhead:
    async def test_starts_from_what_has_settled_by_then(self, platform):
        """A window beginning later than intake accepts actions ahead cannot hold anything settled
        before the campaign was created; its first pass reads only what settles afterwards."""
        soon = datetime.now(UTC) + timedelta(hours=2)
        before = Act("impossible", "c_a", soon + timedelta(minutes=1), 100)  # cannot happen: seeded
        await settle(platform, [before])
        await car_free_day(platform, starts_at=soon, ends_at=soon + timedelta(days=1))
        after = Act("in-window", "c_b", soon + timedelta(minutes=2), 100)
        await settle(platform, [after])
        assert await grant_due(platform, now=soon + timedelta(hours=1)) == 100
        assert await granted(platform, "car-free-day") == {after.key: 100}
