"""Spending under real concurrency: hundreds of reservations and redemptions at once against the
database, racing for one wallet, one offer's last unit, or one code. Nothing may overdraw, go
below zero stock, or redeem twice; every refusal is a clean problem, never a crash."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.context import Platform
from backend.errors import AppError
from backend.merchants import directory
from backend.models import LedgerBalance, Reservation
from backend.redemption.redeem import redeem
from backend.redemption.reservations import reserve, sweep_expired
from points_engine.errors import EngineError
from points_engine.ledger import Account
from tests.redemption_world import balance, fund, open_shop, stock_left

pytestmark = pytest.mark.integration
RACERS = 500
BALANCES = LedgerBalance.__table__  # type: ignore[attr-defined]
RESERVATIONS = Reservation.__table__  # type: ignore[attr-defined]


async def _outcomes(calls: list[object]) -> Counter[str]:
    """What each racer got: ``ok`` or the problem code it was refused with."""
    results = await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[call-overload]
    seen: Counter[str] = Counter()
    for r in results:
        if isinstance(r, EngineError | AppError):
            seen[r.code] += 1
        elif isinstance(r, BaseException):
            raise r
        else:
            seen["ok"] += 1
    return seen


async def _no_negative_balances(platform: Platform) -> None:
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(BALANCES.c.account, func.sum(BALANCES.c.balance)).group_by(BALANCES.c.account)
        )
        sums = {a: int(b) for a, b in rows}
    assert sum(sums.values()) == 0
    assert all(b >= 0 for a, b in sums.items() if not Account.parse(a).may_go_negative)


async def test_500_concurrent_spends_on_one_wallet_never_overdraw(platform: Platform) -> None:
    shop = await open_shop(platform, price=30, stock=RACERS, limit=RACERS)
    await fund(platform, "c_wallet", 30 * 7 + 29)  # enough for 7 units, not 8
    now = datetime.now(UTC)

    seen = await _outcomes([reserve(platform, "c_wallet", shop.offer.offer_id, now) for _ in range(RACERS)])

    assert seen == {"ok": 7, "insufficient-points": RACERS - 7}
    assert await balance(platform, Account.available("c_wallet")) == 29
    assert await balance(platform, Account.held("c_wallet")) == 7 * 30
    assert await stock_left(platform, shop.offer.offer_id) == RACERS - 7
    await _no_negative_balances(platform)


async def test_500_citizens_race_for_the_last_unit(platform: Platform) -> None:
    shop = await open_shop(platform, price=10, stock=1)
    citizens = [f"c_racer_{n:03d}" for n in range(RACERS)]
    for citizen in citizens:
        await fund(platform, citizen, 10)
    now = datetime.now(UTC)

    seen = await _outcomes([reserve(platform, c, shop.offer.offer_id, now) for c in citizens])

    assert seen == {"ok": 1, "out-of-stock": RACERS - 1}
    assert await stock_left(platform, shop.offer.offer_id) == 0
    held = [c for c in citizens if await balance(platform, Account.held(c)) == 10]
    assert len(held) == 1
    await _no_negative_balances(platform)


async def test_one_code_redeemed_by_500_scans_at_once_pays_once(platform: Platform) -> None:
    shop = await open_shop(platform, price=50, stock=3)
    other = await directory.add_staff(platform, shop.merchant_id, "Lin at the second till", "ops_li")
    tills = [await directory.authenticate(platform.db, s) for s in (shop.staff_id, other.staff.staff_id)]
    await fund(platform, "c_scan", 50)
    now = datetime.now(UTC)
    made = await reserve(platform, "c_scan", shop.offer.offer_id, now)
    assert made.reservation.code is not None
    token = made.reservation.code.token

    seen = await _outcomes(
        [
            redeem(platform, tills[n % 2].staff_id, now + timedelta(seconds=1), code=token)
            for n in range(RACERS)
        ]
    )

    assert seen == {"ok": 1, "code-used": RACERS - 1}
    assert await balance(platform, Account.merchant(shop.merchant_id)) == 50
    assert await balance(platform, Account.held("c_scan")) == 0
    assert await balance(platform, Account.available("c_scan")) == 0
    assert await stock_left(platform, shop.offer.offer_id) == 2
    await _no_negative_balances(platform)


async def test_redeeming_while_the_sweeper_voids_resolves_each_hold_once(platform: Platform) -> None:
    """Codes redeemed at the very moment the sweeper finds them expired: each hold ends exactly one
    way, posted or voided, and the points and stock add up."""
    shop = await open_shop(platform, price=5, stock=100, limit=100)
    staff = await directory.authenticate(platform.db, shop.staff_id)
    citizens = [f"c_edge_{n:02d}" for n in range(40)]
    start = datetime.now(UTC) - timedelta(seconds=platform.settings.reservation_ttl_s)
    tokens = []
    for citizen in citizens:
        await fund(platform, citizen, 5)
        made = await reserve(platform, citizen, shop.offer.offer_id, start)
        assert made.reservation.code is not None
        tokens.append(made.reservation.code.token)
    at_expiry = start + timedelta(seconds=platform.settings.reservation_ttl_s)
    just_before = at_expiry - timedelta(microseconds=1)

    seen = await _outcomes(
        [redeem(platform, staff.staff_id, just_before, code=t) for t in tokens]
        + [sweep_expired(platform, at_expiry)]
    )

    redeemed = seen["ok"] - 1  # the sweep returned too
    async with platform.db.read() as conn:
        statuses = Counter(
            dict(
                (
                    await conn.execute(
                        select(RESERVATIONS.c.status, func.count()).group_by(RESERVATIONS.c.status)
                    )
                ).all()
            )
        )
    assert statuses["redeemed"] == redeemed
    assert statuses["redeemed"] + statuses["expired"] == len(citizens)
    assert await balance(platform, Account.merchant(shop.merchant_id)) == 5 * redeemed
    assert await stock_left(platform, shop.offer.offer_id) == 100 - redeemed
    assert sum([await balance(platform, Account.held(c)) for c in citizens]) == 0
    await _no_negative_balances(platform)
