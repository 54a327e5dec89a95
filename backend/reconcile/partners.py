"""Check ``partners``: per partner, accepted actions, outcomes and settle transactions agree.

- every outcome is the outcome of an accepted action, with that action's citizen, book, type and
  time;
- per partner, the outcomes with points and the ``settle`` transactions of the partner (cause
  ``{partner}/…``) agree in number and in points;
- an accepted action has no outcome yet: within ``grace`` it is settling; older, it is counted
  (``strict``: each is a finding, ``unsettled``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.reconcile.findings import Sink
from backend.settlement.repository import ACTIONS, OUTCOMES, TXS

FIELDS = ("citizen_id", "book", "type", "occurred_at")


async def check(conn: AsyncConnection, sink: Sink, *, before: datetime, strict: bool) -> dict[str, Any]:
    """Per-partner totals (returned for the report) and every disagreement among them."""
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("actions", "outcomes", "reduction_g", "points", "credited", "settle_txs", "settled_points",
             "unsettled", "settling"),
            0,
        )
    )  # fmt: skip
    await _orphans(conn, sink)
    await _differing(conn, sink)
    await _sums(conn, totals, before)
    if strict:
        await _unsettled(conn, sink, before)
    for partner, t in sorted(totals.items()):
        sink.examined()
        subject = f"partner {partner}"
        if (t["credited"], t["points"]) != (t["settle_txs"], t["settled_points"]):
            sink.report(
                subject,
                "settle-totals",
                f"{t['credited']} outcomes with {t['points']} points; {t['settle_txs']} settle transactions "
                f"of {t['settled_points']} points",
            )
        if t["outcomes"] > t["actions"]:
            sink.report(
                subject, "outcome-totals", f"{t['outcomes']} outcomes for {t['actions']} accepted actions"
            )
    return {"partners": dict(sorted(totals.items()))}


async def _orphans(conn: AsyncConnection, sink: Sink) -> None:
    """Outcomes of no accepted action."""
    o, a = OUTCOMES.c, ACTIONS.c
    accepted = exists().where(a.partner_id == o.partner_id, a.event_id == o.event_id)
    query = select(o.partner_id, o.event_id).where(~accepted).order_by(o.partner_id, o.event_id)
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for partner, event in result:
        sink.report(f"outcome {partner}/{event}", "outcome-without-action", "no accepted action has this key")


async def _differing(conn: AsyncConnection, sink: Sink) -> None:
    """Outcomes that say another citizen, book, type or time than their action."""
    o, a = OUTCOMES.c, ACTIONS.c
    query = (
        select(OUTCOMES, *(a[f].label(f"action_{f}") for f in FIELDS))
        .join_from(OUTCOMES, ACTIONS, and_(a.partner_id == o.partner_id, a.event_id == o.event_id))
        .where(or_(*(o[f] != a[f] for f in FIELDS)))
        .order_by(o.partner_id, o.event_id)
    )
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        differ = [f"{f} {row._mapping[f]} (action: {row._mapping[f'action_{f}']})" for f in FIELDS
                  if row._mapping[f] != row._mapping[f"action_{f}"]]  # fmt: skip
        sink.report(f"outcome {row.partner_id}/{row.event_id}", "outcome-differs", "; ".join(differ))


async def _sums(conn: AsyncConnection, totals: dict[str, dict[str, int]], before: datetime) -> None:
    o, a, t = OUTCOMES.c, ACTIONS.c, TXS.c
    credited = case((o.points > 0, 1), else_=0)
    for partner, n, grams, points, with_points in await conn.execute(
        select(o.partner_id, func.count(), func.sum(o.reduction_g), func.sum(o.points), func.sum(credited))
        .group_by(o.partner_id)
    ):  # fmt: skip
        totals[partner].update(
            outcomes=n, reduction_g=int(grams), points=int(points), credited=int(with_points)
        )
    settled = exists().where(o.partner_id == a.partner_id, o.event_id == a.event_id)
    old = case((a.received_at < before, 1), else_=0)
    for partner, n, unsettled, old_unsettled in await conn.execute(
        select(a.partner_id, func.count(), func.sum(case((settled, 0), else_=1)),
               func.sum(case((settled, 0), else_=old)))
        .group_by(a.partner_id)
    ):  # fmt: skip
        totals[partner].update(
            actions=n, unsettled=int(old_unsettled), settling=int(unsettled) - int(old_unsettled)
        )
    partner_of = _partner_of_cause(conn)
    for partner, n, amount in await conn.execute(
        select(partner_of, func.count(), func.sum(t.amount)).where(t.kind == "settle").group_by(partner_of)
    ):
        totals[partner].update(settle_txs=n, settled_points=int(amount))


def _partner_of_cause(conn: AsyncConnection) -> Any:
    """``{partner}`` of a settle's cause ``{partner}/{event}`` (partner ids hold no ``/``)."""
    t = TXS.c
    if conn.dialect.name == "postgresql":
        return func.split_part(t.cause, "/", 1)
    return func.substr(t.cause, 1, func.instr(t.cause, "/") - 1)


async def _unsettled(conn: AsyncConnection, sink: Sink, before: datetime) -> None:
    """Each accepted action received before ``before`` that still has no outcome."""
    o, a = OUTCOMES.c, ACTIONS.c
    settled = exists().where(o.partner_id == a.partner_id, o.event_id == a.event_id)
    query = (
        select(a.partner_id, a.event_id, a.received_at)
        .where(a.received_at < before, ~settled)
        .order_by(a.partner_id, a.event_id)
    )
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for partner, event, received in result:
        sink.report(
            f"action {partner}/{event}", "unsettled", f"accepted at {received.isoformat()}, no outcome yet"
        )
