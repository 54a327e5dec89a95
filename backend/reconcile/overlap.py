"""Check ``overlap``: no action is in two runs.

A run covers, per settlement partition, the seqs in ``(from_seq, to_seq]`` of its watermark (and
the approved reviews that name it). So:
- the windows of the runs of one (book, period, partition), in run order, follow each other
  exactly: each starts where the previous stopped (an overlap covers actions twice, a gap skips
  them), the first at 0;
- a review names a run only if it approved a flagged outcome of that run's book and period
  (flagged outcomes are in no window);
- and, directly: the runs check walks all leaves of a (book, period) at once and reports an action
  seen twice (``covered-twice``); here Σ tree_size, the leaves recomputed and the distinct
  actions among them must be one number (``coverage``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.runs import REVIEWS, RUNS, WATERMARKS
from backend.models import SettledOutcome
from backend.reconcile.findings import Sink
from backend.reconcile.runs import Coverage
from points_engine.certification import Period

OUTCOMES = SettledOutcome.__table__  # type: ignore[attr-defined]


async def check(conn: AsyncConnection, sink: Sink, coverage: Coverage) -> None:
    await _windows(conn, sink)
    await _reviews(conn, sink)
    if not coverage.tree_sizes == coverage.leaves == coverage.distinct:
        sink.report(
            "certification_runs",
            "coverage",
            f"Σ tree_size of all runs is {coverage.tree_sizes}; recomputed, they have {coverage.leaves} "
            f"leaves of {coverage.distinct} distinct actions",
        )


async def _windows(conn: AsyncConnection, sink: Sink) -> None:
    w, r = WATERMARKS.c, RUNS.c
    query = (
        select(WATERMARKS, r.book.label("run_book"), r.period.label("run_period"), r.number)
        .join_from(WATERMARKS, RUNS, r.run_id == w.run_id, isouter=True)
        .order_by(w.book, w.period, w.partition, r.number, w.run_id)
    )
    group: tuple[str, str, int] | None = None
    stopped, stopped_by = 0, ""
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        sink.examined()
        subject = f"watermark {row.run_id} partition {row.partition}"
        if row.run_book is None:
            sink.report(subject, "unknown-run", f"run {row.run_id} does not exist")
        elif (row.book, row.period) != (row.run_book, row.run_period):
            sink.report(
                subject,
                "window-mismatch",
                f"window of {row.book} {row.period}, its run is of {row.run_book} {row.run_period}",
            )
        if row.from_seq >= row.to_seq:
            sink.report(subject, "window-empty", f"from_seq {row.from_seq} is not below to_seq {row.to_seq}")
        key = (row.book, row.period, row.partition)
        if key != group:
            group, stopped, stopped_by = key, 0, "no earlier run"
        _follows(sink, subject, row, stopped, stopped_by)
        stopped, stopped_by = max(stopped, row.to_seq), f"run {row.run_id}"


def _follows(sink: Sink, subject: str, row: Any, stopped: int, stopped_by: str) -> None:
    if row.from_seq < stopped:
        sink.report(
            subject,
            "window-overlap",
            f"seqs {row.from_seq + 1}-{min(row.to_seq, stopped)} are also covered by {stopped_by} "
            f"(which stopped at {stopped})",
        )
    elif row.from_seq > stopped:
        sink.report(
            subject,
            "window-gap",
            f"seqs {stopped + 1}-{row.from_seq} are covered by no run ({stopped_by} stopped at {stopped})",
        )


async def _reviews(conn: AsyncConnection, sink: Sink) -> None:
    v, r, o = REVIEWS.c, RUNS.c, OUTCOMES.c
    query = (
        select(
            v.partner_id,
            v.event_id,
            v.decision,
            v.book,
            v.period,
            v.run_id,
            r.book.label("run_book"),
            r.period.label("run_period"),
            o.flagged,
            o.book.label("outcome_book"),
            o.occurred_at,
        )
        .join_from(REVIEWS, RUNS, r.run_id == v.run_id, isouter=True)
        .join(OUTCOMES, (o.partner_id == v.partner_id) & (o.event_id == v.event_id), isouter=True)
        .where(v.run_id.is_not(None))
        .order_by(v.partner_id, v.event_id)
    )
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        sink.examined()
        subject = f"review {row.partner_id}/{row.event_id}"
        if row.decision != "approved":
            sink.report(subject, "review-not-approved", f"{row.decision}, yet certified by run {row.run_id}")
        if row.run_book is None:
            sink.report(subject, "unknown-run", f"run {row.run_id} does not exist")
            continue
        if (row.book, row.period) != (row.run_book, row.run_period):
            sink.report(
                subject,
                "review-mismatch",
                f"review of {row.book} {row.period}, its run {row.run_id} is of "
                f"{row.run_book} {row.run_period}",
            )
        if row.flagged is None:
            sink.report(subject, "review-without-outcome", "no outcome for the reviewed action")
            continue
        period = str(Period.containing(row.occurred_at))
        if not row.flagged or (row.outcome_book, period) != (row.run_book, row.run_period):
            sink.report(
                subject,
                "review-mismatch",
                f"its outcome (flagged {row.flagged}, {row.outcome_book} {period}) is not a flagged "
                f"action of run {row.run_id}'s {row.run_book} {row.run_period}",
            )
