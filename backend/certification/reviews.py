"""Reviews of flagged actions (docs/certification.md, "Reviews").

A flagged action settles with its points pending and waits outside every run. A reviewer
approves it (the next run of its book and period certifies it) or rejects it (its pending
points are voided at once, ``void:{book}``). One decision per action, final, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.exc import IntegrityError

from backend import audit
from backend.certification.runs import REVIEWS
from backend.db import Database
from backend.errors import ActionNotFound, AlreadyReviewed, InvalidRequest, NotReviewable
from backend.ledger_store import post
from backend.models import SettledOutcome
from points_engine.certification import Period
from points_engine.ledger import settle_tx, void_tx

OUTCOMES: Table = SettledOutcome.__table__  # type: ignore[assignment]
DECISIONS = ("approved", "rejected")


@dataclass(frozen=True, slots=True)
class AwaitingReview:
    partner_id: str
    event_id: str
    citizen_id: str
    type: str
    occurred_at: datetime
    reduction_g: int
    points: int
    reasons: list[str]
    book: str
    methodology: str


async def awaiting(
    db: Database, *, book: str | None = None, limit: int = 100, after: tuple[str, str] | None = None
) -> list[AwaitingReview]:
    """Flagged actions with no decision yet, by (partner_id, event_id), keyset-paginated."""
    o, r = OUTCOMES.c, REVIEWS.c
    query = (
        select(OUTCOMES)
        .outerjoin(REVIEWS, and_(r.partner_id == o.partner_id, r.event_id == o.event_id))
        .where(o.flagged, r.decision.is_(None), o.status.in_(("credited", "capped")))
        .order_by(o.partner_id, o.event_id)
        .limit(limit)
    )
    if book is not None:
        query = query.where(o.book == book)
    if after is not None:
        query = query.where(
            (o.partner_id > after[0]) | ((o.partner_id == after[0]) & (o.event_id > after[1]))
        )
    async with db.read() as conn:
        rows = list(await conn.execute(query))
    return [
        AwaitingReview(
            x.partner_id,
            x.event_id,
            x.citizen_id,
            x.type,
            x.occurred_at,
            x.reduction_g,
            x.points,
            x.reasons.split(),
            x.book,
            x.methodology,
        )
        for x in rows
    ]


async def decide(
    db: Database, partner_id: str, event_id: str, decision: str, *, reviewer: str, note: str = ""
) -> dict[str, Any]:
    """Record the decision on a flagged action; a rejection voids its pending points."""
    if decision not in DECISIONS:
        raise InvalidRequest(f"decision must be one of {', '.join(DECISIONS)}")
    if len(note) > 500 or any(ord(ch) < 32 for ch in note):
        raise InvalidRequest("note: at most 500 characters, no control characters")
    try:
        async with db.transaction() as tx:
            o = (
                await tx.conn.execute(
                    select(OUTCOMES).where(
                        OUTCOMES.c.partner_id == partner_id, OUTCOMES.c.event_id == event_id
                    )
                )
            ).first()
            if o is None:
                raise ActionNotFound(f"no settled action {event_id!r} of partner {partner_id!r}")
            if not o.flagged or o.status not in ("credited", "capped"):
                raise NotReviewable(
                    f"action {event_id!r} of partner {partner_id!r} is not flagged for review"
                )
            period = str(Period.containing(o.occurred_at))
            await tx.conn.execute(
                REVIEWS.insert().values(
                    partner_id=partner_id,
                    event_id=event_id,
                    decision=decision,
                    reviewer=reviewer,
                    note=note,
                    book=o.book,
                    period=period,
                    decided_at=tx.started_at,
                )
            )
            voided = 0
            if decision == "rejected" and o.points > 0:
                pending = settle_tx(o.book, o.citizen_id, f"{partner_id}/{event_id}", o.points)
                await post(tx.conn, [void_tx(pending)], tx.started_at)
                voided = o.points
            details = {"book": o.book, "period": period, "citizen_id": o.citizen_id, "points_voided": voided}
            if note:
                details["note"] = note
            await audit.record(tx, reviewer, f"review.{decision}", f"{partner_id}/{event_id}", details)
    except IntegrityError:
        raise AlreadyReviewed(
            f"action {event_id!r} of partner {partner_id!r} has a decision already"
        ) from None
    return {
        "partner_id": partner_id,
        "event_id": event_id,
        "decision": decision,
        "period": period,
        "book": o.book,
        "points_voided": voided,
    }
