"""The ``redemptions`` reconciliation: clean after every kind of spend, and each tampering with
reservations, stock or balances named by its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.context import Platform
from backend.ledger_store import post
from backend.merchants import directory
from backend.reconcile import reconcile
from backend.redemption.redeem import redeem, reverse
from backend.redemption.reservations import cancel, reserve, sweep_expired
from points_engine.ledger import bonus_tx
from tests.redemption_world import open_shop

pytestmark = pytest.mark.integration


async def _grant(platform: Platform, citizen_id: str, points: int) -> None:
    """Available points from a campaign: a bonus needs no certification run behind it."""
    async with platform.db.transaction() as tx:
        await post(tx.conn, [bonus_tx("welcome", citizen_id, citizen_id, points)], datetime.now(UTC))


async def _spent(platform: Platform) -> dict[str, str]:
    """One reservation in each state: reserved, redeemed, cancelled, expired, reversed."""
    shop = await open_shop(platform, price=20, stock=10, limit=10)
    staff = await directory.authenticate(platform.db, shop.staff_id)
    await _grant(platform, "c_spender", 200)
    now = datetime.now(UTC)
    offer = shop.offer.offer_id
    made = {}
    for name in ("reserved", "redeemed", "cancelled", "expired", "reversed"):
        made[name] = (await reserve(platform, "c_spender", offer, now)).reservation
    for name in ("redeemed", "reversed"):
        code = made[name].code
        assert code is not None
        await redeem(platform, staff.staff_id, now, code=code.token)
    await reverse(platform, staff, made["reversed"].reservation_id, now + timedelta(minutes=1))
    await cancel(platform, "c_spender", made["cancelled"].reservation_id, now)
    await platform.db.run(
        lambda tx: tx.conn.execute(
            text("UPDATE reservations SET expires_at = :t WHERE reservation_id = :r"),
            {"t": now - timedelta(seconds=1), "r": made["expired"].reservation_id},
        )
    )
    await sweep_expired(platform, now)
    return {name: r.reservation_id for name, r in made.items()} | {
        "offer": offer,
        "merchant": shop.merchant_id,
    }


def _named(report: object) -> set[tuple[str, str, str]]:
    return {(f.check, f.code, f.subject) for f in report.findings}  # type: ignore[attr-defined]


async def test_every_kind_of_spend_reconciles(platform: Platform) -> None:
    await _spent(platform)
    report = await reconcile(platform.db)
    assert report.ok, [str(f) for f in report.findings]
    assert report.checks["redemptions"].checked == 5 + 1  # reservations, then offers
    assert report.info["reservations"] == 5


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "UPDATE reservations SET points = points + 1 WHERE reservation_id = :redeemed",
            {("redemptions", "reservation-tx-mismatch", "reservation {redeemed}"),
             ("redemptions", "merchant-balance", "account merchant:{merchant}")},
        ),
        (
            "UPDATE reservations SET status = 'reserved', resolved_tx = NULL"
            " WHERE reservation_id = :cancelled",
            {("redemptions", "held-balance", "account citizen:c_spender:held"),
             ("redemptions", "stock", "offer {offer}")},
        ),
        (
            "UPDATE offers SET stock_left = stock_left + 5 WHERE offer_id = :offer",
            {("redemptions", "stock", "offer {offer}")},
        ),
        (
            "UPDATE reservations SET status = 'redeemed' WHERE reservation_id = :reversed",
            {("redemptions", "merchant-balance", "account merchant:{merchant}"),
             ("redemptions", "stock", "offer {offer}")},
        ),
    ],
)  # fmt: skip
async def test_tampering_is_named(
    platform: Platform, change: str, expected: set[tuple[str, str, str]]
) -> None:
    ids = await _spent(platform)
    await platform.db.run(lambda tx: tx.conn.execute(text(change), ids))
    report = await reconcile(platform.db)
    found = {f for f in _named(report) if f[0] == "redemptions"}
    assert found == {(c, code, subject.format(**ids)) for c, code, subject in expected}
