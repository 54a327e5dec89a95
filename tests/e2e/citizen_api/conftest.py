"""Two citizens bound through the partner API, with settled outcomes seeded for both and the
Shantou book's November 2026 certified: what every citizen API test reads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.certification.runs import RunRecord, certify
from backend.context import Platform
from tests.factories import make_partner, mobile, sdk
from tests.integration.certification.seed import Seeded, seed

NOV = datetime(2026, 11, 3, 4, 5, 6, 789_000, tzinfo=UTC)
# 2026-10-31 17:00 UTC is already 1 November in Shanghai; 15:00 UTC is still October there.
SHANGHAI_NOV_1 = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
SHANGHAI_OCT_31 = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)


def citizen_headers(
    platform: Platform, citizen_id: str, ttl: int = 900, now: int | None = None
) -> dict[str, str]:
    token = platform.tokens.mint(citizen_id, "citizen", ttl, int(time.time()) if now is None else now)
    return {"authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class World:
    alice: str
    bob: str
    items: list[Seeded]  # everything seeded, both citizens
    run: RunRecord  # shantou 2026-11
    late: list[Seeded]  # settled after the run: not certified

    def of(self, citizen_id: str) -> list[Seeded]:
        return [i for i in self.items + self.late if i.citizen_id == citizen_id]

    def certified(self, citizen_id: str) -> list[Seeded]:
        return [
            i
            for i in self.items
            if i.citizen_id == citizen_id
            and i.eligible
            and i.book == "shantou"
            and i.occurred_at >= SHANGHAI_NOV_1
        ]


def _actions(citizen_id: str, prefix: str) -> list[Seeded]:
    def one(n: int, at: datetime, grams: int, **kw: object) -> Seeded:
        return Seeded(
            partner_id=kw.pop("partner_id", "transit_st"),  # type: ignore[arg-type]
            event_id=f"{prefix}-{n:03d}",
            citizen_id=citizen_id,
            occurred_at=at,
            reduction_g=grams,
            points=grams,
            **kw,  # type: ignore[arg-type]
        )

    return [
        *(one(i, NOV + timedelta(hours=5 * i), 150_000 + i) for i in range(6)),
        one(10, NOV + timedelta(hours=2), 90_000, partner_id="bike_st", methodology="trip.bike@2026.1"),
        one(11, NOV + timedelta(hours=2), 52_000, type="waste_sorting", methodology="waste.kitchen@2026.1"),
        one(12, SHANGHAI_NOV_1, 30_000, type="clean_plate", methodology="clean_plate@2026.1"),
        one(13, SHANGHAI_OCT_31, 40_000),  # October in Shanghai: not in the November run
        one(14, NOV + timedelta(days=1), 60_000, flagged=True),
        Seeded("transit_st", f"{prefix}-015", citizen_id, NOV + timedelta(days=2), 0, 0, status="rejected"),
        one(16, NOV + timedelta(days=3), 45_000, status="capped"),
        one(17, NOV + timedelta(days=4), 70_000, book="nanao"),  # other book: not certified here
    ]


async def walk(http, path: str, headers, limit: int, query: str = "") -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every item of a cursor-paginated list, page by page, following ``next``."""
    items: list[dict[str, Any]] = []
    after = ""
    while True:
        response = await http.get(f"{path}?limit={limit}{query}{after}", headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next"] is None:
            return items
        after = f"&after={page['next']}"


@pytest.fixture
async def world(platform: Platform, app) -> World:  # type: ignore[no-untyped-def]
    # given: Alice and Bob bound at the transit operator, Alice also at the bike operator
    transit = await make_partner(platform, "transit_st")
    bike = await make_partner(platform, "bike_st")
    async with sdk(app, transit) as t, sdk(app, bike) as b:
        alice = (await t.bind("wx_alice", mobile(1))).citizen_id
        bob = (await t.bind("wx_bob", mobile(2))).citizen_id
        await b.bind("bk_alice", mobile(1))
    items = _actions(alice, "a") + _actions(bob, "b")
    await seed(platform, items)
    run = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    late = [Seeded("transit_st", "a-900", alice, NOV + timedelta(days=5), 8_000, 8_000)]
    await seed(platform, late)
    return World(alice, bob, items, run, late)
