"""The citizen's certified actions with the serial ranges of their runs, and the inclusion proof of
one of their own actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backend.certification.proofs import proof_for
from backend.certification.runs import RANGES
from backend.citizens import keyset
from backend.citizens.certified import OUTCOMES, certified
from backend.db import Database
from backend.errors import ActionNotFound

LIVE_RANGES = ("active", "retired")  # a split range lives on in its pieces


@dataclass(frozen=True, slots=True)
class SerialRange:
    serial: str
    first: int
    last: int
    status: str


@dataclass(frozen=True, slots=True)
class Credit:
    partner_id: str
    event_id: str
    type: str
    occurred_at: datetime
    reduction_g: int
    points: int
    methodology: str
    book: str
    run_id: str
    ranges: list[SerialRange]


async def credits(
    db: Database, citizen_id: str, *, after: str | None = None, limit: int = 20
) -> keyset.Page[Credit]:
    """The citizen's actions that a certification run covers, newest first, each with its run's
    live serial ranges (the run's tonnes pool every covered action's grams)."""
    o = OUTCOMES.c
    resume = keyset.after(OUTCOMES, after)
    async with db.read() as conn:
        runs = await certified(conn, citizen_id)
        query = (
            select(OUTCOMES, runs.c.run_id)
            .join(runs, (runs.c.partner_id == o.partner_id) & (runs.c.event_id == o.event_id))
            .where(o.citizen_id == citizen_id)
            .order_by(*keyset.order(OUTCOMES))
            .limit(limit + 1)
        )
        if resume is not None:
            query = query.where(resume)
        rows = (await conn.execute(query)).all()
        ranges: dict[str, list[SerialRange]] = {}
        run_ids = {row.run_id for row in rows[:limit]}
        if run_ids:
            for r in await conn.execute(
                select(RANGES.c.run_id, RANGES.c.serial, RANGES.c.first, RANGES.c.last, RANGES.c.status)
                .where(RANGES.c.run_id.in_(run_ids), RANGES.c.status.in_(LIVE_RANGES))
                .order_by(RANGES.c.first, RANGES.c.serial)
            ):
                ranges.setdefault(r.run_id, []).append(SerialRange(r.serial, r.first, r.last, r.status))
    items = [
        Credit(
            partner_id=row.partner_id,
            event_id=row.event_id,
            type=row.type,
            occurred_at=row.occurred_at,
            reduction_g=int(row.reduction_g),
            points=int(row.points),
            methodology=row.methodology,
            book=row.book,
            run_id=row.run_id,
            ranges=ranges.get(row.run_id, []),
        )
        for row in rows
    ]
    return keyset.page(items, limit, lambda c: (c.occurred_at, c.partner_id, c.event_id))


async def own_proof(db: Database, citizen_id: str, partner_id: str, event_id: str) -> dict[str, Any]:
    """The inclusion proof of the citizen's own action; ActionNotFound for any action that is not
    theirs (existing or not, so that nothing leaks), ActionNotCertified while no run covers it."""
    async with db.read() as conn:
        owner = (
            await conn.execute(
                select(OUTCOMES.c.citizen_id).where(
                    OUTCOMES.c.partner_id == partner_id, OUTCOMES.c.event_id == event_id
                )
            )
        ).scalar_one_or_none()
    if owner != citizen_id:
        raise ActionNotFound(f"you have no settled action {event_id!r} of partner {partner_id!r}")
    return await proof_for(db, partner_id, event_id)
