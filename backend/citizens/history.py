"""The citizen's settled actions, newest first, one keyset page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from backend.citizens import keyset
from backend.citizens.certified import OUTCOMES, certified
from backend.db import Database
from backend.errors import InvalidRequest
from points_engine.certification import InvalidPeriod, Period


@dataclass(frozen=True, slots=True)
class HistoryItem:
    partner_id: str
    event_id: str
    type: str
    occurred_at: datetime
    status: str
    reduction_g: int
    points: int
    reasons: list[str]
    methodology: str
    book: str
    certified_run_id: str | None


def month_period(month: str) -> Period:
    """The Asia/Shanghai month ``YYYY-MM``; InvalidRequest for anything else."""
    try:
        return Period.parse(month)
    except InvalidPeriod as exc:
        raise InvalidRequest(f"/month: {exc.detail}") from exc


async def history(
    db: Database,
    citizen_id: str,
    *,
    type: str | None = None,
    month: str | None = None,
    after: str | None = None,
    limit: int = 20,
) -> keyset.Page[HistoryItem]:
    """The citizen's settled actions (of ``type``, in ``month``), after the cursor ``after``."""
    o = OUTCOMES.c
    period = None if month is None else month_period(month)
    resume = keyset.after(OUTCOMES, after)
    async with db.read() as conn:
        runs = await certified(conn, citizen_id)
        query = (
            select(OUTCOMES, runs.c.run_id)
            .outerjoin(runs, (runs.c.partner_id == o.partner_id) & (runs.c.event_id == o.event_id))
            .where(o.citizen_id == citizen_id)
            .order_by(*keyset.order(OUTCOMES))
            .limit(limit + 1)
        )
        if type is not None:
            query = query.where(o.type == type)
        if period is not None:
            query = query.where(o.occurred_at >= period.start, o.occurred_at < period.end)
        if resume is not None:
            query = query.where(resume)
        rows = (await conn.execute(query)).all()
    items = [
        HistoryItem(
            partner_id=row.partner_id,
            event_id=row.event_id,
            type=row.type,
            occurred_at=row.occurred_at,
            status=row.status,
            reduction_g=int(row.reduction_g),
            points=int(row.points),
            reasons=row.reasons.split(),
            methodology=row.methodology,
            book=row.book,
            certified_run_id=row.run_id,
        )
        for row in rows
    ]
    return keyset.page(items, limit, lambda i: (i.occurred_at, i.partner_id, i.event_id))
