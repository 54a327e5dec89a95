"""Check ``ranges``: the serial ranges of every run hold each of its tonnes exactly once.

- the pieces still standing (``active``, ``retired``) of a run tile tonnes 1 … tonnes: no gap, no
  overlap; a ``split`` piece's children tile the piece;
- each serial is what its columns say (``parse_serial``), and its run's book, vintage and number;
- a retired piece names its beneficiary, purpose and time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.runs import RANGES, RUNS
from backend.reconcile.findings import Sink
from points_engine.certification import InvalidSerial, parse_serial

STANDING = ("active", "retired")
STATUSES = (*STANDING, "split")


class _Tiling:
    """Pieces fed in order of their first tonne must cover ``low`` … ``high`` exactly once."""

    def __init__(self, sink: Sink, owner: str, low: int, high: int) -> None:
        self.sink, self.owner, self.high = sink, owner, high
        self.next = low

    def piece(self, serial: str, first: int, last: int) -> None:
        if first > self.next:
            self._gap(self.next, first - 1)
        elif first < self.next:
            self.sink.report(
                f"range {serial}",
                "range-overlap",
                f"tonnes {first}-{min(last, self.next - 1)} of {self.owner} are also held by another piece",
            )
        self.next = max(self.next, last + 1)

    def end(self) -> None:
        if self.next <= self.high:
            self._gap(self.next, self.high)

    def _gap(self, first: int, last: int) -> None:
        self.sink.report(self.owner, "range-gap", f"tonnes {first}-{last} are held by no piece")


async def check(conn: AsyncConnection, sink: Sink) -> None:
    await _rows(conn, sink)
    await _runs_tiled(conn, sink)
    await _splits_tiled(conn, sink)


async def _rows(conn: AsyncConnection, sink: Sink) -> None:
    """Each range against its serial and its run."""
    r = RUNS.c
    query = (
        select(RANGES, r.run_id.label("known_run"), r.book.label("run_book"), r.vintage.label("run_vintage"))
        .add_columns(r.number.label("run_num"), r.tonnes.label("run_tonnes"))
        .join_from(RANGES, RUNS, r.run_id == RANGES.c.run_id, isouter=True)
        .order_by(RANGES.c.serial)
    )
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        sink.examined()
        _check_row(row, sink)


def _check_row(row: Any, sink: Sink) -> None:
    subject = f"range {row.serial}"
    columns = (row.book, row.vintage, row.run_number, row.first, row.last)
    try:
        parsed = parse_serial(row.serial)
    except InvalidSerial as error:
        sink.report(subject, "serial-malformed", error.detail)
    else:
        named = (parsed.book, parsed.vintage, parsed.run, parsed.start, parsed.end)
        if named != columns:
            sink.report(
                subject,
                "serial-mismatch",
                "the serial names book, vintage, run, first, last = {}; the columns hold {}".format(
                    ", ".join(map(str, named)), ", ".join(map(str, columns))
                ),
            )
    if row.known_run is None:
        sink.report(subject, "unknown-run", f"run {row.run_id} does not exist")
        return
    if (row.book, row.vintage, row.run_number) != (row.run_book, row.run_vintage, row.run_num):
        sink.report(
            subject,
            "run-mismatch",
            f"book {row.book}, vintage {row.vintage}, run {row.run_number}; its run {row.run_id} is "
            f"{row.run_book}, {row.run_vintage}, {row.run_num}",
        )
    if not 1 <= row.first <= row.last <= row.run_tonnes:
        sink.report(
            subject,
            "out-of-run",
            f"tonnes {row.first}-{row.last} are not within 1-{row.run_tonnes} of run {row.run_id}",
        )
    if row.status not in STATUSES:
        sink.report(subject, "status", f"status {row.status!r} is none of {', '.join(STATUSES)}")
    if row.status == "retired" and not (row.beneficiary and row.purpose and row.retired_at):
        sink.report(subject, "retirement-incomplete", "retired without a beneficiary, purpose or time")


async def _runs_tiled(conn: AsyncConnection, sink: Sink) -> None:
    """The standing pieces of each run, by first tonne, tile 1 … tonnes."""
    c, r = RANGES.c, RUNS.c
    query = (
        select(r.run_id, r.tonnes, c.serial, c.first, c.last)
        .join_from(RUNS, RANGES, and_(c.run_id == r.run_id, c.status.in_(STANDING)), isouter=True)
        .order_by(r.run_id, c.first, c.serial)
    )
    tiling: _Tiling | None = None
    current = None
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        if row.run_id != current:
            if tiling is not None:
                tiling.end()
            current, tiling = row.run_id, _Tiling(sink, f"run {row.run_id}", 1, row.tonnes)
        if row.serial is not None and tiling is not None:
            tiling.piece(row.serial, row.first, row.last)
    if tiling is not None:
        tiling.end()


async def _splits_tiled(conn: AsyncConnection, sink: Sink) -> None:
    """The children of each split piece tile it; a child's parent exists and is split."""
    child, parent = RANGES.alias("child"), RANGES.alias("parent")
    query = (
        select(
            child.c.serial,
            child.c.parent,
            child.c.first,
            child.c.last,
            child.c.run_id,
            parent.c.serial.label("p_serial"),
            parent.c.first.label("p_first"),
            parent.c.last.label("p_last"),
            parent.c.status.label("p_status"),
            parent.c.run_id.label("p_run"),
        )
        .join_from(child, parent, parent.c.serial == child.c.parent, isouter=True)
        .where(child.c.parent.is_not(None))
        .order_by(child.c.parent, child.c.first, child.c.serial)
    )
    tiling: _Tiling | None = None
    current = None
    result = await conn.stream(query.execution_options(yield_per=10_000))
    async for row in result:
        subject = f"range {row.serial}"
        if row.p_serial is None:
            sink.report(subject, "orphan", f"its parent {row.parent} does not exist")
            continue
        if row.p_status != "split" or row.p_run != row.run_id:
            sink.report(
                subject, "parent-mismatch", f"parent {row.parent} is {row.p_status} in run {row.p_run}"
            )
        if row.first < row.p_first or row.last > row.p_last:
            sink.report(
                subject,
                "out-of-parent",
                f"tonnes {row.first}-{row.last} are not within {row.p_first}-{row.p_last}",
            )
        if row.parent != current:
            if tiling is not None:
                tiling.end()
            current, tiling = row.parent, _Tiling(sink, f"range {row.parent}", row.p_first, row.p_last)
        if tiling is not None:
            tiling.piece(row.serial, row.first, row.last)
    if tiling is not None:
        tiling.end()
    childless = (
        await conn.execute(
            select(RANGES.c.serial).where(
                RANGES.c.status == "split", ~exists().where(child.c.parent == RANGES.c.serial)
            )
        )
    ).scalars()
    for serial in childless:
        sink.report(f"range {serial}", "range-gap", "split into no pieces: its tonnes are held by none")
