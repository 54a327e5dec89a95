"""The expiry sweep on a real database: a citizen's history booked at chosen times, sweeps run at
chosen ``now``s; what expires, into which book's account, once, and the notices queued ahead."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from backend.admin_api import partners as partner_admin
from backend.expiry import sweep, sweep_daily, sweeper
from backend.expiry.movements import lock
from backend.expiry.schedule import claim_slot, run_expiry
from backend.ledger_store import post
from backend.models import Binding, WebhookDelivery
from backend.webhooks import dispatcher
from backend.webhooks.dispatcher import deliver_due
from partners.sdk import verify_webhook
from points_engine.ledger import spend_reserve_tx
from tests.factories import make_partner, mobile, sdk
from tests.integration.expiry import ledger
from tests.integration.expiry.ledger import balance, bonus, cancel, earn, redeem, refund, reserve
from tests.integration.test_webhooks import HOOK_PATH, Receiver

# 2024-11-03 10:00 in Shanghai: valid through 2026-11-03, gone at 2026-11-04 00:00 there.
T = datetime(2024, 11, 3, 2, 0, tzinfo=UTC)
GONE = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
C = "c_expiry_1"
AVAILABLE = f"citizen:{C}:available"
DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]


class TestSweep:
    async def test_points_expire_oldest_first_into_their_books_expiry_account(self, platform):
        # given: 100 (city), 50 (Nan'ao) a day later, 30 (city) 40 days later; 60 spent
        await earn(platform, C, 100, T)
        await earn(platform, C, 50, T + timedelta(days=1), "nanao")
        await earn(platform, C, 30, T + timedelta(days=40))
        await redeem(platform, C, 60, T + timedelta(days=100))
        # when / then: to the last second of their last day, nothing goes
        assert (await sweep(platform, GONE - timedelta(seconds=1))).expired == {}
        # the first lot's 40 left go at the start of its day after; the others on their own days
        assert (await sweep(platform, GONE + timedelta(hours=1))).expired == {"shantou": 40}
        assert (await balance(platform, AVAILABLE), await balance(platform, "expiry:shantou")) == (80, 40)
        assert (await sweep(platform, GONE + timedelta(days=1))).expired == {"nanao": 50}
        assert (await sweep(platform, datetime(2026, 12, 13, 16, 0, tzinfo=UTC))).expired == {"shantou": 30}
        assert await balance(platform, AVAILABLE) == 0
        assert await balance(platform, "expiry:shantou") == 70
        assert await balance(platform, "expiry:nanao") == 50

    async def test_a_second_sweep_the_same_day_expires_nothing_more(self, platform):
        await earn(platform, C, 100, T)
        first = await sweep(platform, GONE + timedelta(hours=1))
        again = await sweep(platform, GONE + timedelta(hours=1))
        later_that_day = await sweep(platform, GONE + timedelta(hours=23))
        assert (first.expired, first.expired_citizens) == ({"shantou": 100}, 1)
        assert again.expired == later_that_day.expired == {}
        assert await ledger.transactions(platform, "expire") == 1
        assert await balance(platform, "expiry:shantou") == 100

    async def test_bonuses_expire_to_the_city_and_a_certified_settle_to_its_book(self, platform):
        await ledger.earn_by_certify(platform, C, 70, T, "nanao")
        await bonus(platform, C, 20, T)
        report = await sweep(platform, GONE + timedelta(hours=1))
        assert report.expired == {"nanao": 70, "shantou": 20}

    async def test_held_points_do_not_expire_and_come_back_fresh_after_their_day(self, platform):
        # given: all 100 points reserved an hour before their end, the reservation cancelled after it
        await earn(platform, C, 100, T)
        reservation = await reserve(platform, C, 100, GONE - timedelta(hours=1))
        assert (await sweep(platform, GONE + timedelta(hours=1))).expired == {}
        await cancel(platform, reservation, GONE + timedelta(hours=2))
        # then: they are back, valid 24 months from the cancellation
        assert (await sweep(platform, GONE + timedelta(days=1))).expired == {}
        assert await balance(platform, AVAILABLE) == 100
        fresh_gone = datetime(2028, 11, 4, 16, 0, tzinfo=UTC)  # 2026-11-04 in Shanghai + 24 months
        assert (await sweep(platform, fresh_gone - timedelta(seconds=1))).expired == {}
        assert (await sweep(platform, fresh_gone)).expired == {"shantou": 100}

    async def test_a_refund_after_an_expiry_does_not_revive_the_expired_points(self, platform):
        await earn(platform, C, 100, T)
        posted = await redeem(platform, C, 60, T + timedelta(days=100))
        assert (await sweep(platform, GONE + timedelta(hours=1))).expired == {"shantou": 40}
        await refund(platform, posted, GONE + timedelta(hours=2))
        assert (await sweep(platform, GONE + timedelta(days=2))).expired == {}
        assert (await balance(platform, AVAILABLE), await balance(platform, "expiry:shantou")) == (60, 40)

    async def test_a_reservation_waiting_on_the_lock_is_seen_by_the_sweep(self, platform):
        # given: the points due, and a redemption holding the citizen's lock while it reserves them
        await earn(platform, C, 100, T)
        now = GONE + timedelta(hours=1)
        async with platform.db.transaction() as tx:
            await lock(tx.conn, [AVAILABLE])
            sweeping = asyncio.create_task(sweep(platform, now))
            await asyncio.sleep(0.5)
            assert not sweeping.done()  # the sweep waits for the redemption
            await post(tx.conn, [spend_reserve_tx(C, "r_race", 100)], now)
        # then: it recomputed under the lock, found nothing left to expire, and refused nothing
        assert (await sweeping).expired == {}
        assert (await balance(platform, AVAILABLE), await balance(platform, f"citizen:{C}:held")) == (0, 100)

    async def test_citizens_are_swept_in_pages(self, platform, monkeypatch):
        monkeypatch.setattr(sweeper, "PAGE", 3)
        citizens = [f"c_page_{i:02d}" for i in range(10)]
        for i, citizen in enumerate(citizens):
            await earn(platform, citizen, 10 + i, T)
        await earn(platform, "c_page_young", 5, T + timedelta(days=300))
        report = await sweep(platform, GONE + timedelta(hours=1))
        assert (report.citizens, report.expired_citizens) == (11, 10)
        assert report.expired == {"shantou": sum(10 + i for i in range(10))}
        assert [await balance(platform, f"citizen:{c}:available") for c in citizens] == [0] * 10


async def _bound_citizen(platform, app) -> str:
    """Bound at transit (webhook, two users), bike (no webhook) and canteen (webhook, consent
    withdrawn)."""
    transit = await make_partner(platform, "transit_st")
    bike = await make_partner(platform, "bike_st")
    canteen = await make_partner(platform, "canteen_st")
    for partner_id in ("transit_st", "canteen_st"):
        await partner_admin.set_webhook(platform, partner_id, "https://partner.example/hooks")
    async with sdk(app, transit) as t, sdk(app, bike) as b, sdk(app, canteen) as c:
        citizen = (await t.bind("wx_a", mobile(7))).citizen_id
        await t.bind("wx_a2", mobile(7))
        await b.bind("bk_a", mobile(7))
        await c.bind("cn_a", mobile(7))
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            update(Binding)
            .where(Binding.partner_id == "canteen_st")  # type: ignore[arg-type]
            .values(consent_withdrawn_at=T)
        )
    return citizen


async def _notices(platform) -> list[tuple[str, str, dict]]:
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(DELIVERIES.c.partner_id, DELIVERIES.c.event_id, DELIVERIES.c.payload)
            .where(DELIVERIES.c.kind == "points.expiring")
            .order_by(DELIVERIES.c.event_id)
        )
        return [tuple(r) for r in rows]


class TestNotices:
    async def test_one_notice_per_partner_with_a_webhook_and_consent_per_expiry_date(self, platform, app):
        # given
        citizen = await _bound_citizen(platform, app)
        await earn(platform, citizen, 100, T)  # gone 2026-11-04
        await earn(platform, citizen, 50, T + timedelta(days=1))  # gone 2026-11-05
        month_ahead = GONE - timedelta(days=30) + timedelta(hours=1)
        # when
        report = await sweep(platform, month_ahead)
        # then: only the first date is within 30 days
        assert report.notices == 1
        assert await _notices(platform) == [
            (
                "transit_st",
                f"expiring:{citizen}:2026-11-04",
                {
                    "event_id": f"expiring:{citizen}:2026-11-04",
                    "citizen_id": citizen,
                    "users": ["wx_a", "wx_a2"],
                    "points": 100,
                    "expires_on": "2026-11-04",
                },
            )
        ]

    async def test_a_notice_is_queued_once_and_the_next_date_when_it_comes_within_30_days(
        self, platform, app
    ):
        citizen = await _bound_citizen(platform, app)
        await earn(platform, citizen, 100, T)
        await earn(platform, citizen, 50, T + timedelta(days=1))
        month_ahead = GONE - timedelta(days=30) + timedelta(hours=1)
        await sweep(platform, month_ahead)
        assert (await sweep(platform, month_ahead + timedelta(hours=5))).notices == 0
        assert (await sweep(platform, month_ahead + timedelta(days=1))).notices == 1
        assert [(e, p["points"]) for _, e, p in await _notices(platform)] == [
            (f"expiring:{citizen}:2026-11-04", 100),
            (f"expiring:{citizen}:2026-11-05", 50),
        ]

    async def test_the_partner_receives_the_notice_signed(self, platform, app):
        # given: a partner whose webhook is a real endpoint
        citizen = await _bound_citizen(platform, app)
        await earn(platform, citizen, 100, T)
        with Receiver() as receiver:
            secret = await partner_admin.set_webhook(platform, "transit_st", receiver.url())
            await sweep(platform, GONE - timedelta(days=10))
            # when
            async with dispatcher.new_client() as client:
                await deliver_due(platform, client)
        # then
        [request] = receiver.received
        body = verify_webhook(secret, "POST", request.path, request.headers, request.body)
        assert request.path == HOOK_PATH
        assert body["type"] == "points.expiring"
        assert body["data"]["points"] == 100
        assert date.fromisoformat(body["data"]["expires_on"]) == date(2026, 11, 4)

    async def test_points_expired_in_the_sweep_are_not_announced(self, platform, app):
        citizen = await _bound_citizen(platform, app)
        await earn(platform, citizen, 100, T)
        assert (await sweep(platform, GONE + timedelta(hours=1))).notices == 0
        assert await _notices(platform) == []


class TestSchedule:
    async def test_one_claim_per_interval_whoever_asks(self, platform):
        now = GONE
        claims = [await claim_slot(platform, 3600, now) for _ in range(3)]
        assert claims == [True, False, False]
        assert await claim_slot(platform, 3600, now + timedelta(seconds=3599)) is False
        assert await claim_slot(platform, 3600, now + timedelta(seconds=3600)) is True

    async def test_a_completed_sweep_is_not_repeated_the_same_shanghai_day(self, platform):
        await earn(platform, C, 100, T)
        first = await sweep_daily(platform, GONE + timedelta(hours=1))
        assert first is not None and first.expired == {"shantou": 100}
        assert await sweep_daily(platform, GONE + timedelta(hours=23)) is None
        assert await sweep_daily(platform, GONE + timedelta(hours=24)) is not None

    async def test_the_workers_loop_sweeps_at_the_real_time(self, platform, monkeypatch):
        # given: points earned at T, past their validity now (2026-11-04 or later)
        await earn(platform, C, 100, T)
        monkeypatch.setattr(platform.settings, "expiry_interval_s", 3600.0)
        stop = asyncio.Event()
        loop = asyncio.create_task(run_expiry(platform, stop))
        try:
            for _ in range(100):
                if await balance(platform, "expiry:shantou"):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(loop, 5)
        assert await balance(platform, "expiry:shantou") == 100

    @pytest.mark.parametrize("interval", [0.0, -1.0])
    async def test_an_interval_of_zero_turns_the_loop_off(self, platform, monkeypatch, interval):
        monkeypatch.setattr(platform.settings, "expiry_interval_s", interval)
        await asyncio.wait_for(run_expiry(platform, asyncio.Event()), 1)
