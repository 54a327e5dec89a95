"""Random sequences of reservations, cancellations, redemptions, reversals and expiries, checked
against a model after every step: the ledger balances to zero, nothing goes negative, and every
unit of stock and every point is where the model says."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.context import Platform
from backend.errors import AppError
from backend.merchants import directory
from backend.redemption.redeem import redeem, reverse
from backend.redemption.reservations import cancel, reserve, sweep_expired
from points_engine.errors import EngineError
from points_engine.ledger import Account
from tests.redemption_world import balance, fund, open_shop, stock_left

pytestmark = pytest.mark.integration

Op = tuple[str, int, int]  # (operation, citizen or reservation index, offer index)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "reserve", "cancel", "redeem", "redeem", "reverse", "expire"]),
        st.integers(0, 5),
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Model:
    available: dict[str, int]
    held: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    merchant: int = 0
    live: list[tuple[str, str, str, int, str]] = field(
        default_factory=list
    )  # rid, citizen, offer, points, token
    redeemed: list[tuple[str, str, str, int]] = field(default_factory=list)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
async def test_spending_keeps_every_point_and_unit_accounted_for(platform: Platform, ops: list[Op]) -> None:
    tag = secrets.token_hex(3)
    shops = [await open_shop(platform, f"m_{tag}_{n}", price=40 + 30 * n, stock=3, limit=2) for n in range(2)]
    staff = [await directory.authenticate(platform.db, s.staff_id) for s in shops]
    citizens = [f"c_{tag}_{n}" for n in range(2)]
    for c in citizens:
        await fund(platform, c, 150, key=f"grant_{tag}")
    model = Model(available=dict.fromkeys(citizens, 150), stock={s.offer.offer_id: 3 for s in shops})
    now = datetime.now(UTC)

    for op, who, which in ops:
        now += timedelta(seconds=1)
        try:
            if op == "reserve":
                c, shop = citizens[who % 2], shops[which]
                expected = _refusal(model, c, shop.offer.offer_id, shop.offer.price_points)
                made = await reserve(platform, c, shop.offer.offer_id, now)
                assert made.reservation.code is not None
                p = shop.offer.price_points
                model.available[c] -= p
                model.stock[shop.offer.offer_id] -= 1
                assert expected is None, f"reserved although the model expected {expected}"
                rid, token = made.reservation.reservation_id, made.reservation.code.token
                model.live.append((rid, c, shop.offer.offer_id, p, token))
            elif op in ("cancel", "redeem") and model.live:
                rid, c, offer_id, p, token = model.live[who % len(model.live)]
                if op == "cancel":
                    await cancel(platform, c, rid, now)
                    model.available[c] += p
                    model.stock[offer_id] += 1
                else:
                    till = staff[0] if offer_id == shops[0].offer.offer_id else staff[1]
                    await redeem(platform, till.staff_id, now, code=token)
                    model.merchant += p
                    model.redeemed.append((rid, c, offer_id, p))
                model.live.remove((rid, c, offer_id, p, token))
            elif op == "reverse" and model.redeemed:
                rid, c, offer_id, p = model.redeemed[who % len(model.redeemed)]
                till = staff[0] if offer_id == shops[0].offer.offer_id else staff[1]
                await reverse(platform, till, rid, now)
                model.merchant -= p
                model.available[c] += p
                model.stock[offer_id] += 1
                model.redeemed.remove((rid, c, offer_id, p))
            elif op == "expire":
                now += timedelta(seconds=platform.settings.reservation_ttl_s)
                await sweep_expired(platform, now)
                for _rid, c, offer_id, p, _token in model.live:
                    model.available[c] += p
                    model.stock[offer_id] += 1
                model.live.clear()
        except (AppError, EngineError) as refused:
            # Only a reservation may be refused here, for the reason the model predicts; the checks
            # below see that the refusal changed nothing.
            assert op == "reserve" and refused.code == expected, (op, refused.code, expected)

        for c in citizens:
            held = sum(p for _, who_, _, p, _ in model.live if who_ == c)
            assert await balance(platform, Account.available(c)) == model.available[c]
            assert await balance(platform, Account.held(c)) == held
        for shop in shops:
            assert await stock_left(platform, shop.offer.offer_id) == model.stock[shop.offer.offer_id]
        merchants = sum([await balance(platform, Account.merchant(s.merchant_id)) for s in shops])
        assert merchants == model.merchant


def _refusal(model: Model, citizen: str, offer_id: str, price: int) -> str | None:
    """The refusal a reservation should meet, in the documented precedence."""
    taken = sum(1 for _, c, o, _, _ in model.live if (c, o) == (citizen, offer_id))
    taken += sum(1 for _, c, o, _ in model.redeemed if (c, o) == (citizen, offer_id))
    if taken >= 2:
        return "per-citizen-limit"
    if model.available[citizen] < price:
        return "insufficient-points"
    if model.stock[offer_id] <= 0:
        return "out-of-stock"
    return None
