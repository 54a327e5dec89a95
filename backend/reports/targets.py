"""The Nan'ao pilot's annual neutrality targets, in whole tonnes CO2e: set by administrators, read by
the pilot report. Setting one is audited (``pilot.target-set``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend import audit
from backend.db import Database, Tx
from backend.errors import InvalidTarget
from backend.models import PilotTarget
from backend.reports.pilot import BOOK, FIRST_YEAR, LAST_YEAR

TARGETS: SqlTable = PilotTarget.__table__  # type: ignore[assignment]

# Nan'ao county (about 60,000 people) emits well under 1 Mt CO2e a year: a target above 100 Mt is
# a typo (or a unit mistake), not a plan.
MAX_TARGET_T = 100_000_000


@dataclass(frozen=True, slots=True)
class TargetRecord:
    book: str
    year: int
    target_t: int
    set_by: str
    set_at: datetime


def check_target(year: Any, target_t: Any) -> tuple[int, int]:
    """(year, target_t) if the year is 2000-9998 and the target a whole number of tonnes in
    1..MAX_TARGET_T (a JSON integer, not a float, string or boolean); InvalidTarget otherwise."""
    if type(year) is not int or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidTarget(f"year {year!r} is outside {FIRST_YEAR}-{LAST_YEAR}")
    if type(target_t) is not int:
        raise InvalidTarget(f"target_t must be an integer number of tonnes, not {target_t!r}")
    if not 1 <= target_t <= MAX_TARGET_T:
        raise InvalidTarget(f"target_t must be between 1 and {MAX_TARGET_T:,} tonnes, not {target_t}")
    return year, target_t


async def set_target(db: Database, year: Any, target_t: Any, *, actor: str) -> TargetRecord:
    """Store or replace the pilot's target for ``year``; an identical target changes (and logs) nothing."""
    year, target_t = check_target(year, target_t)

    async def use_case(tx: Tx) -> TargetRecord:
        insert = (postgresql if tx.conn.dialect.name == "postgresql" else sqlite).insert
        row = {"book": BOOK, "year": year, "target_t": target_t, "set_by": actor, "set_at": tx.started_at}
        new = insert(TARGETS).values(**row).on_conflict_do_nothing().returning(TARGETS.c.year)
        previous: int | None = None
        if (await tx.conn.execute(new)).first() is None:  # one exists: replace it, under its row lock
            key = (TARGETS.c.book == BOOK, TARGETS.c.year == year)
            current = (await tx.conn.execute(select(TARGETS).where(*key).with_for_update())).one()
            if current.target_t == target_t:
                return _record(current)
            previous = int(current.target_t)
            await tx.conn.execute(update(TARGETS).where(*key).values(**row))
        details = {"year": year, "target_t": target_t, "previous": previous}
        await audit.record(tx, actor, "pilot.target-set", f"pilot:{BOOK}:{year}", details)
        return TargetRecord(BOOK, year, target_t, actor, tx.started_at)

    result: TargetRecord = await db.run(use_case)
    return result


async def list_targets(db: Database) -> list[TargetRecord]:
    """Every target of the pilot, by year."""
    async with db.read() as conn:
        rows = await conn.execute(select(TARGETS).where(TARGETS.c.book == BOOK).order_by(TARGETS.c.year))
        return [_record(r) for r in rows]


def _record(row: Any) -> TargetRecord:
    return TargetRecord(row.book, row.year, int(row.target_t), row.set_by, row.set_at)
