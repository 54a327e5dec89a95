"""The citizen's reductions: what counts toward their footprint, in total, by type and by month."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from backend.certification.members import ELIGIBLE_STATUSES
from backend.citizens.certified import OUTCOMES
from backend.citizens.equivalents import Equivalents, equivalents
from backend.db import Database
from points_engine.certification import Period


@dataclass(frozen=True, slots=True)
class MonthReduction:
    month: str  # YYYY-MM in Asia/Shanghai
    reduction_g: int


@dataclass(frozen=True, slots=True)
class Footprint:
    reduction_g: int
    actions: int
    by_type: dict[str, int]
    by_month: list[MonthReduction]  # oldest first, months with reductions only
    equivalents: Equivalents


async def footprint(db: Database, citizen_id: str) -> Footprint:
    """Grams reduced by the citizen's eligible actions (credited or capped, with grams, not flagged)."""
    o = OUTCOMES.c
    by_type: dict[str, int] = {}
    by_month: dict[str, int] = {}
    actions = 0
    async with db.read() as conn:
        rows = await conn.stream(
            select(o.type, o.occurred_at, o.reduction_g).where(
                o.citizen_id == citizen_id,
                o.status.in_(ELIGIBLE_STATUSES),
                o.reduction_g > 0,
                o.flagged.is_(False),
            )
        )
        async for type_, occurred_at, grams in rows:
            actions += 1
            by_type[type_] = by_type.get(type_, 0) + int(grams)
            month = str(Period.containing(occurred_at))
            by_month[month] = by_month.get(month, 0) + int(grams)
    total = sum(by_type.values())
    return Footprint(
        reduction_g=total,
        actions=actions,
        by_type=dict(sorted(by_type.items())),
        by_month=[MonthReduction(m, g) for m, g in sorted(by_month.items())],
        equivalents=equivalents(total),
    )
