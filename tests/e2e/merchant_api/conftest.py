"""What the redemption e2e tests share: a shop with an offer and a funded citizen, the calls a
citizen and a till make over HTTP, and a snapshot of everything a refusal must leave as it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from backend.context import Platform
from backend.merchants.directory import Staff, authenticate
from points_engine.ledger import Account
from tests.redemption_world import Shop, balance, citizen_headers, fund, open_shop, stock_left

ALICE = "c_alice"
BOB = "c_bob"
TABLES = ("ledger_transactions", "reservations", "offers", "merchants", "merchant_staff")


@dataclass(frozen=True)
class Snapshot:
    """Balances, stock, reservation statuses and row counts: equal snapshots mean nothing changed."""

    balances: dict[str, int]
    stock: dict[str, int]
    statuses: dict[str, str]
    rows: dict[str, int]


async def snapshot(platform: Platform, citizens: list[str], shops: list[Shop]) -> Snapshot:
    accounts = [
        *(a for c in citizens for a in (Account.available(c), Account.held(c), Account.pending(c))),
        *(Account.merchant(s.merchant_id) for s in shops),
    ]
    reservations = SQLModel.metadata.tables["reservations"]
    async with platform.db.read() as conn:
        rows = await conn.execute(select(reservations.c.reservation_id, reservations.c.status))
        statuses = {reservation_id: status for reservation_id, status in rows}
        counts = {
            t: (
                await conn.execute(select(func.count()).select_from(SQLModel.metadata.tables[t]))
            ).scalar_one()
            for t in TABLES
        }
    return Snapshot(
        balances={str(a): await balance(platform, a) for a in accounts},
        stock={s.offer.offer_id: await stock_left(platform, s.offer.offer_id) for s in shops},
        statuses=statuses,
        rows=counts,
    )


async def wallet(platform: Platform, citizen_id: str) -> tuple[int, int, int]:
    """(available, held, pending) straight from the ledger balances."""
    return (
        await balance(platform, Account.available(citizen_id)),
        await balance(platform, Account.held(citizen_id)),
        await balance(platform, Account.pending(citizen_id)),
    )


async def merchant_balance(platform: Platform, shop: Shop) -> int:
    return await balance(platform, Account.merchant(shop.merchant_id))


async def staff_of(platform: Platform, shop: Shop) -> Staff:
    return await authenticate(platform.db, shop.staff_id)


async def reserve(
    http: httpx.AsyncClient, platform: Platform, citizen_id: str, offer_id: str, **headers: str
) -> dict[str, Any]:
    """Reserve over HTTP; the reservation with its code (asserting 201)."""
    response = await http.post(
        "/v1/citizen/reservations",
        json={"offer_id": offer_id},
        headers={**citizen_headers(platform, citizen_id), **headers},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def redeem(http: httpx.AsyncClient, shop: Shop, **body: str) -> httpx.Response:
    return await http.post("/v1/merchant/redemptions", json=body, headers=shop.staff)


async def ledger_kinds(platform: Platform) -> list[str]:
    """The kinds of spend transactions in the journal, in booking order."""
    txs = SQLModel.metadata.tables["ledger_transactions"]
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(txs.c.kind)
            .where(txs.c.kind.like("spend-%") | (txs.c.kind == "reverse"))
            .order_by(txs.c.booked_at)
        )
        return list(rows.scalars())


@pytest.fixture
async def shop(platform: Platform) -> Shop:
    """m_tea with one offer of 10 units at 100 points, one per citizen."""
    return await open_shop(platform)


@pytest.fixture
async def alice(platform: Platform) -> str:
    """A citizen with 500 available points."""
    await fund(platform, ALICE, 500)
    return ALICE
