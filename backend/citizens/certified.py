"""Which of a citizen's actions a certification run covers, as one query: the same membership as
backend.certification.members (an eligible outcome inside a run's watermark window of its book,
period and partition, or a flagged one whose approval names the run), restricted to one citizen."""

from __future__ import annotations

from sqlalchemy import Subquery, Table, and_, false, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.members import ELIGIBLE_STATUSES
from backend.models import Review, RunWatermark, SettledOutcome
from points_engine.certification import Period

OUTCOMES: Table = SettledOutcome.__table__  # type: ignore[assignment]
WATERMARKS: Table = RunWatermark.__table__  # type: ignore[assignment]
REVIEWS: Table = Review.__table__  # type: ignore[assignment]


async def certified(conn: AsyncConnection, citizen_id: str) -> Subquery:
    """(partner_id, event_id, run_id) of every certified action of ``citizen_id``."""
    o, w, r = OUTCOMES.c, WATERMARKS.c, REVIEWS.c
    periods = [Period.parse(p) for p in (await conn.execute(select(w.period).distinct())).scalars()]
    # A partition's seqs run across periods, so a window only covers the outcomes of its own period.
    in_period = or_(
        false(), *(and_(w.period == str(p), o.occurred_at >= p.start, o.occurred_at < p.end) for p in periods)
    )
    by_window = (
        select(o.partner_id, o.event_id, w.run_id)
        .join(
            WATERMARKS,
            and_(w.book == o.book, w.partition == o.partition, o.seq > w.from_seq, o.seq <= w.to_seq),
        )
        .where(
            o.citizen_id == citizen_id,
            o.flagged.is_(False),
            o.status.in_(ELIGIBLE_STATUSES),
            o.reduction_g > 0,
            in_period,
        )
    )
    by_review = (
        select(o.partner_id, o.event_id, r.run_id)
        .join(REVIEWS, and_(r.partner_id == o.partner_id, r.event_id == o.event_id))
        .where(o.citizen_id == citizen_id, r.run_id.is_not(None))
    )
    return union_all(by_window, by_review).subquery("certified")
