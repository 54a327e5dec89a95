"""The demo's merchants: a tea house in Jinping and a ferry café on Nan'ao, their offers, and one
citizen's points spent through the API alone — balance, reservation, QR, redemption, statement."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from backend.context import Platform
from backend.errors import AppError
from backend.merchants import directory, offers
from backend.merchants.schemas import OfferCreate
from backend.models import LedgerBalance
from backend.settings import Settings
from points_engine.certification import SHANGHAI

SHOPS = (
    ("m_jinping_tea", "金平工夫茶 Jinping gongfu tea", "shantou",
     (("Dancong tea, 50 g", 120, 200), ("Bus day pass voucher", 300, 50))),
    ("m_nanao_ferry", "南澳渡轮咖啡 Nan'ao ferry café", "nanao", (("Ferry coffee", 80, 100),)),
)  # fmt: skip
BALANCES = LedgerBalance.__table__  # type: ignore[attr-defined]


def open_and_spend(settings: Settings, base_url: str) -> dict[str, Any]:
    return asyncio.run(_open_and_spend(settings, base_url))


async def _open_and_spend(settings: Settings, base_url: str) -> dict[str, Any]:
    platform = await Platform.open(settings)
    try:
        tills = {}
        for merchant_id, name, book, goods in SHOPS:
            try:
                await directory.create_merchant(platform.db, merchant_id, name, book, "demo")
            except AppError as exc:
                if exc.code != "merchant-exists":
                    raise
                continue  # opened by an earlier demo: its offers are there too
            now = datetime.now(UTC)
            for title, price, stock in goods:
                await offers.create_offer(
                    platform.db,
                    OfferCreate(
                        merchant_id=merchant_id, title=title, price_points=price, stock=stock,
                        per_citizen_limit=2, valid_from=now - timedelta(hours=1),
                        valid_until=now + timedelta(days=90),
                    ),
                    "demo",
                )  # fmt: skip
        for merchant_id, *_ in SHOPS:
            tills[merchant_id] = (
                await directory.add_staff(platform, merchant_id, "demo till", "demo")
            ).access_token
        citizen = await _richest(platform)
        token = platform.tokens.mint(citizen, "citizen", 3600, int(time.time())) if citizen else None
    finally:
        await platform.close()
    if citizen is None or token is None:
        return {"merchants": [m for m, *_ in SHOPS], "spent": None}
    return {"merchants": [m for m, *_ in SHOPS], "spent": _spend(base_url, citizen, token, tills)}


async def _richest(platform: Platform) -> str | None:
    async with platform.db.read() as conn:
        row = (
            await conn.execute(
                select(BALANCES.c.account)
                .where(BALANCES.c.account.like("citizen:%:available"), BALANCES.c.balance >= 120)
                .order_by(BALANCES.c.balance.desc())
                .limit(1)
            )
        ).first()
    return None if row is None else row.account.split(":")[1]


def _spend(base_url: str, citizen: str, token: str, tills: dict[str, str]) -> dict[str, Any]:
    """What a mini-program and a till do, over HTTP only."""
    me = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        before = http.get("/v1/citizen/balances", headers=me).raise_for_status().json()
        offer = next(o for o in http.get("/v1/citizen/offers", headers=me).raise_for_status().json()
                     if o["price_points"] <= before["available"])  # fmt: skip
        held = http.post("/v1/citizen/reservations", json={"offer_id": offer["offer_id"]}, headers=me)
        reservation = held.raise_for_status().json()
        qr = http.get(reservation["code"]["qr_png"], headers=me).raise_for_status()
        till = {"authorization": f"Bearer {tills[offer['merchant_id']]}"}
        paid = http.post(
            "/v1/merchant/redemptions", json={"code": reservation["code"]["token"]}, headers=till
        )
        paid.raise_for_status()
        after = http.get("/v1/citizen/balances", headers=me).raise_for_status().json()
        today = datetime.now(SHANGHAI).date().isoformat()
        statement = http.get(f"/v1/merchant/statements/{today}", headers=till).raise_for_status().json()
    return {
        "citizen_id": citizen,
        "offer": offer["title"],
        "points": offer["price_points"],
        "available_before": before["available"],
        "available_after": after["available"],
        "qr_png_bytes": len(qr.content),
        "merchant_id": offer["merchant_id"],
        "statement_reconciled": statement["reconciled"],
    }


def describe(shop: dict[str, Any]) -> list[str]:
    spent = shop.get("spent")
    if not spent:
        return [f"  merchants {', '.join(shop['merchants'])}: nobody has enough available points yet"]
    who, where = spent["citizen_id"], spent["merchant_id"]
    return [
        f"  {who} spent {spent['points']} points on {spent['offer']!r} at {where}: available "
        f"{spent['available_before']} → {spent['available_after']}, statement reconciled: "
        f"{spent['statement_reconciled']}",
        f"  try it: tanhui token --role citizen --sub {who}; staff tokens: POST "
        f"/v1/admin/merchants/{where}/staff (docs/redemption.md)",
    ]
