"""The auditors' exports (docs/reports.md): what each holds, read straight from the tables.

Each export is a ``Table`` whose rows are streamed from one query on a connection of its own
(server-side cursor, ``yield_per``): memory stays flat however many rows the table has. The
per-partner and per-methodology totals are grouped by the database over every outcome; their
certified grams are what the certification runs cover (``backend.certification.members``), so
they agree with the runs to the gram.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy import Table as SqlTable
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.members import member_sums
from backend.certification.runs import scope_of
from backend.db import Database
from backend.models import CertificationRun, CreditRange, Partner, RegistryAccount, SettledOutcome
from backend.reports.writers import Row, Table

RUNS: SqlTable = CertificationRun.__table__  # type: ignore[assignment]
RANGES: SqlTable = CreditRange.__table__  # type: ignore[assignment]
ACCOUNTS: SqlTable = RegistryAccount.__table__  # type: ignore[assignment]
OUTCOMES: SqlTable = SettledOutcome.__table__  # type: ignore[assignment]
PARTNERS: SqlTable = Partner.__table__  # type: ignore[assignment]

YIELD_PER = 2000

RUN_COLUMNS = (
    "run_id",
    "book",
    "period",
    "number",
    "vintage",
    "status",
    "tree_size",
    "root",
    "reduction_g",
    "carry_in_g",
    "carry_out_g",
    "tonnes",
    "points",
    "serial",
    "actor",
    "started_at",
    "issued_at",
    "completed_at",
)
RANGE_COLUMNS = (
    "serial",
    "book",
    "vintage",
    "run_id",
    "run_number",
    "first",
    "last",
    "tonnes",
    "account_id",
    "account_kind",
    "status",
    "parent",
    "beneficiary",
    "purpose",
    "retired_at",
    "created_at",
)
RETIREMENT_COLUMNS = (
    "serial",
    "book",
    "vintage",
    "run_id",
    "first",
    "last",
    "tonnes",
    "account_id",
    "account_kind",
    "beneficiary",
    "purpose",
    "retired_at",
)
TOTAL_COLUMNS = (
    "actions",
    "credited",
    "capped",
    "rejected",
    "flagged",
    "reduction_g",
    "points",
    "certified_g",
)
PARTNER_COLUMNS = ("partner_id", "name", *TOTAL_COLUMNS)
METHODOLOGY_COLUMNS = ("methodology", *TOTAL_COLUMNS)


async def _stream(db: Database, query: Select[Any]) -> AsyncIterator[Row]:
    async with db.read() as conn:
        result = await conn.stream(query.execution_options(yield_per=YIELD_PER))
        async for row in result:
            yield tuple(row)


def runs(db: Database) -> Table:
    """Every certification run, by book and number, with the serial of the range it issued."""
    original = and_(RANGES.c.run_id == RUNS.c.run_id, RANGES.c.parent.is_(None))
    query = (
        select(*(RANGES.c.serial if c == "serial" else RUNS.c[c] for c in RUN_COLUMNS))
        .select_from(RUNS.outerjoin(RANGES, original))
        .order_by(RUNS.c.book, RUNS.c.number)
    )
    return Table("runs", RUN_COLUMNS, _stream(db, query))


def _piece_column(name: str) -> Any:
    if name == "tonnes":
        return (RANGES.c["last"] - RANGES.c["first"] + 1).label("tonnes")
    if name == "account_kind":
        return ACCOUNTS.c.kind.label("account_kind")
    return RANGES.c[name]


def _pieces(columns: tuple[str, ...]) -> Select[Any]:
    return select(*(_piece_column(c) for c in columns)).select_from(
        RANGES.outerjoin(ACCOUNTS, ACCOUNTS.c.account_id == RANGES.c.account_id)
    )


def ranges(db: Database) -> Table:
    """Every current piece (active or retired; ``split`` parents are history and left out)."""
    query = (
        _pieces(RANGE_COLUMNS)
        .where(RANGES.c.status != "split")
        .order_by(RANGES.c.book, RANGES.c.vintage, RANGES.c.run_number, RANGES.c["first"])
    )
    return Table("ranges", RANGE_COLUMNS, _stream(db, query))


def retirements(db: Database) -> Table:
    """Every retired piece, oldest retirement first."""
    query = (
        _pieces(RETIREMENT_COLUMNS)
        .where(RANGES.c.status == "retired")
        .order_by(RANGES.c.retired_at, RANGES.c.serial)
    )
    return Table("retirements", RETIREMENT_COLUMNS, _stream(db, query))


def partners(db: Database) -> Table:
    """Per partner that reported anything: its outcomes counted and summed."""
    return Table("partners", PARTNER_COLUMNS, _totals(db, "partner_id", with_name=True))


def methodologies(db: Database) -> Table:
    """Per methodology version (``trip.bus@2026.1``): its outcomes counted and summed."""
    return Table("methodologies", METHODOLOGY_COLUMNS, _totals(db, "methodology"))


async def _totals(db: Database, column: str, *, with_name: bool = False) -> AsyncIterator[Row]:
    async with db.read() as conn:
        certified = await certified_grams(conn, column)
        names: dict[str, str] = {}
        if with_name:
            names = {p: n for p, n in await conn.execute(select(PARTNERS.c.partner_id, PARTNERS.c.name))}
        key = OUTCOMES.c[column]
        settled = OUTCOMES.c.status.in_(("credited", "capped"))
        query = (
            select(
                key,
                func.count(),
                _count(OUTCOMES.c.status == "credited"),
                _count(OUTCOMES.c.status == "capped"),
                _count(OUTCOMES.c.status == "rejected"),
                _count(OUTCOMES.c.flagged),
                func.coalesce(func.sum(case((settled, OUTCOMES.c.reduction_g), else_=0)), 0),
                func.coalesce(func.sum(OUTCOMES.c.points), 0),
            )
            .group_by(key)
            .order_by(key)
        )
        result = await conn.stream(query.execution_options(yield_per=YIELD_PER))
        async for value, *counts in result:
            head = (value, names.get(value)) if with_name else (value,)
            yield (*head, *(int(c) for c in counts), certified.get(value, 0))


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def certified_grams(conn: AsyncConnection, column: str) -> dict[str, int]:
    """Per value of ``column``: the grams of the actions certification runs have covered."""
    grams: dict[str, int] = {}
    for run in await conn.execute(select(RUNS.c.run_id, RUNS.c.book, RUNS.c.period)):
        for value, (_, g, _) in (await member_sums(conn, scope_of(run), column)).items():
            grams[value] = grams.get(value, 0) + g
    return grams


EXPORTS: dict[str, Callable[[Database], Table]] = {
    "runs": runs,
    "ranges": ranges,
    "retirements": retirements,
    "partners": partners,
    "methodologies": methodologies,
}
