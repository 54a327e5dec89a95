"""Settled actions for campaign tests: the ``actions`` rows (region, data) and their outcomes,
written as intake and the settlement workers would; and the campaign invariants, checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from backend.campaigns.store import CAMPAIGNS, GRANTS
from backend.context import Platform
from backend.settlement.repository import ACTIONS
from points_engine.regions import book_of
from tests.integration.certification.seed import Seeded, balance, seed

DATA: dict[str, Any] = {
    "trip": lambda kind: {"mode": kind, "distance_m": 5200, "duration_s": 1380},
    "waste_sorting": lambda kind: {"category": kind, "weight_g": 800, "station_id": "st_1"},
    "clean_plate": lambda kind: {"canteen_id": "canteen_1", "meal": kind, "verified_by": "staff"},
}


@dataclass(frozen=True)
class Act:
    event_id: str
    citizen_id: str
    occurred_at: datetime
    points: int
    type: str = "trip"
    kind: str = "bus"
    region: str = "440507"
    status: str = "credited"
    flagged: bool = False
    partner_id: str = "transit_st"

    @property
    def key(self) -> tuple[str, str]:
        return self.partner_id, self.event_id


async def settle(platform: Platform, acts: Sequence[Act]) -> None:
    """The actions accepted, then settled (in one settlement transaction, in this order)."""
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            ACTIONS.insert(),
            [
                {
                    "partner_id": a.partner_id,
                    "event_id": a.event_id,
                    "citizen_id": a.citizen_id,
                    "user": f"u_{a.citizen_id}",
                    "type": a.type,
                    "occurred_at": a.occurred_at,
                    "region": a.region,
                    "book": book_of(a.region),
                    "data": DATA[a.type](a.kind),
                    "content_hash": "0" * 64,
                    "received_at": tx.started_at,
                }
                for a in acts
            ],
        )
    await seed(
        platform,
        [
            Seeded(
                partner_id=a.partner_id,
                event_id=a.event_id,
                citizen_id=a.citizen_id,
                occurred_at=a.occurred_at,
                reduction_g=a.points,
                points=a.points,
                book=book_of(a.region),
                status=a.status,
                flagged=a.flagged,
                type=a.type,
                methodology=f"{a.type}.{a.kind}@2026.1",
            )
            for a in acts
        ],
    )


async def grants(platform: Platform, campaign_id: str) -> dict[tuple[str, str], int]:
    """The campaign's grants: points by (partner_id, event_id)."""
    g = GRANTS.c
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(g.partner_id, g.event_id, g.points).where(g.campaign_id == campaign_id)
        )
        return {(p, e): int(points) for p, e, points in rows}


async def campaign_row(platform: Platform, campaign_id: str) -> Any:
    async with platform.db.read() as conn:
        return (await conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.campaign_id == campaign_id))).one()


async def assert_budget_invariant(platform: Platform, campaign_id: str) -> int:
    """-balance(campaign:{id}) == granted_points == Σ grants <= budget_points; the points granted."""
    row = await campaign_row(platform, campaign_id)
    async with platform.db.read() as conn:
        total = (
            await conn.execute(
                select(func.coalesce(func.sum(GRANTS.c.points), 0)).where(GRANTS.c.campaign_id == campaign_id)
            )
        ).scalar_one()
    given = -await balance(platform, f"campaign:{campaign_id}")
    assert given == row.granted_points == int(total) <= row.budget_points
    return given
