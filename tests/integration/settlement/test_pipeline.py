"""From a signed batch to outcomes and ledger postings, through Redis Streams and a worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.admin_api import partners as partner_admin
from backend.models import LedgerBalance, LedgerTransaction
from backend.settlement.worker import Worker
from backend.webhooks import run_dispatcher
from partners.sdk import verify_webhook
from tests.factories import make_partner, mobile, sdk, trip
from tests.integration.settlement.conftest import count_outcomes, eventually
from tests.integration.test_webhooks import Receiver


async def _bound(app, platform, users: int = 3):
    creds = await make_partner(platform)
    client = sdk(app, creds)
    for n in range(users):
        await client.bind(f"wx_user_{n}", mobile(n))
    return client


async def test_accepted_actions_settle_with_outcomes_and_postings(app, platform, worker):
    client = await _bound(app, platform)
    base = datetime.now(UTC) - timedelta(hours=5)
    actions = [
        trip(f"wx_user_{n % 3}", occurred_at=(base + timedelta(minutes=40 * n)).isoformat()) for n in range(6)
    ]
    result = await client.report(actions)
    assert result.accepted == 6

    await eventually(lambda: _equals(count_outcomes(platform), 6))
    outcome = await client.outcome(actions[0]["event_id"])
    assert outcome.status == "credited"
    assert outcome.methodology == "trip.bus@2026.1"
    assert outcome.reduction_g == 5200 * 269 // 10000  # 26.9 g per passenger-km, rounded down
    assert outcome.points == outcome.reduction_g

    async with platform.db.read() as conn:
        txs = list(await conn.execute(select(LedgerTransaction)))
        balances = {(b.account, b.shard): b.balance for b in await conn.execute(select(LedgerBalance))}
    assert len(txs) == 6 and {t.kind for t in txs} == {"settle"}
    assert sum(balances.values()) == 0
    pending = {a: v for (a, _), v in balances.items() if a.endswith(":pending")}
    assert len(pending) == 3 and all(v == 2 * outcome.points for v in pending.values())


async def test_an_overlapping_trip_reported_by_a_second_partner_is_rejected(app, platform, worker):
    bus = sdk(app, await make_partner(platform, "transit_st"))
    bike = sdk(app, await make_partner(platform, "bike_st"))
    await bus.bind("u_bus", mobile(7))
    await bike.bind("u_bike", mobile(7))  # the same citizen
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    first = trip("u_bus", occurred_at=at)
    await bus.report([first])
    await eventually(lambda: _equals(count_outcomes(platform), 1))
    second = trip("u_bike", occurred_at=at, data={"mode": "bike", "distance_m": 3000, "duration_s": 900})
    await bike.report([second])
    await eventually(lambda: _equals(count_outcomes(platform), 2))

    assert (await bus.outcome(first["event_id"])).status == "credited"
    rejected = await bike.outcome(second["event_id"])
    assert (rejected.status, rejected.reasons, rejected.points) == ("rejected", ["overlapping-trip"], 0)


async def test_an_unsettled_action_reads_pending(app, platform):
    client = await _bound(app, platform, users=1)
    action = trip("wx_user_0")
    await client.report([action])
    outcome = await client.outcome(action["event_id"])
    assert (outcome.status, outcome.points, outcome.methodology) == ("pending", 0, None)


async def _equals(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def test_a_partner_with_a_webhook_receives_the_signed_outcome(app, platform):
    with Receiver() as receiver:
        creds = await make_partner(platform)
        secret = await partner_admin.set_webhook(platform, creds.partner_id, receiver.url())
        client = sdk(app, creds)
        await client.bind("wx_user_0", mobile(0))
        action = trip("wx_user_0")
        await client.report([action])

        worker = Worker(platform, services=(run_dispatcher,))
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await eventually(lambda: _received(receiver))
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

        delivery = receiver.received[0]
        body = verify_webhook(secret, "POST", delivery.path, delivery.headers, delivery.body)
        outcome = await client.outcome(action["event_id"])
        assert body == {"type": "action.settled", "data": outcome_json(outcome)}
        assert body["data"]["status"] == "credited"


async def _received(receiver) -> bool:
    return bool(receiver.received)


def outcome_json(outcome) -> dict:
    return {
        "event_id": outcome.event_id,
        "status": outcome.status,
        "citizen_id": outcome.citizen_id,
        "reduction_g": outcome.reduction_g,
        "points": outcome.points,
        "methodology": outcome.methodology,
        "book": outcome.book,
        "reasons": list(outcome.reasons),
    }
