"""The Nan'ao pilot's report for a year (docs/reports.md): its reductions, what was certified and
issued, where its credits went, and how far the retirements go towards the year's target.

The year and its months are Asia/Shanghai calendar periods (``points_engine.certification.Period``).
Reductions are counted by ``occurred_at``; runs, issued and held credits by vintage (= the year of the
period a run certified). Everything is read in one snapshot (REPEATABLE READ on PostgreSQL), so the
numbers agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal_column, select
from sqlalchemy import Table as SqlTable
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.books import PILOT_ACCOUNT
from backend.certification.members import ELIGIBLE_STATUSES
from backend.db import Database
from backend.errors import InvalidRequest
from backend.models import CertificationRun, CreditRange, PilotTarget, RegistryAccount, Review, SettledOutcome
from points_engine.certification import Period
from points_engine.regions import PILOT_BOOK

BOOK = PILOT_BOOK  # the pilot's book and its platform account
RUNS: SqlTable = CertificationRun.__table__  # type: ignore[assignment]
RANGES: SqlTable = CreditRange.__table__  # type: ignore[assignment]
ACCOUNTS: SqlTable = RegistryAccount.__table__  # type: ignore[assignment]
OUTCOMES: SqlTable = SettledOutcome.__table__  # type: ignore[assignment]
REVIEWS: SqlTable = Review.__table__  # type: ignore[assignment]
TARGETS: SqlTable = PilotTarget.__table__  # type: ignore[assignment]
FIRST_YEAR, LAST_YEAR = 2000, 9998  # as periods (Period.parse)


@dataclass(frozen=True, slots=True)
class Sums:
    actions: int = 0
    grams: int = 0
    points: int = 0

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.actions + other.actions, self.grams + other.grams, self.points + other.points)


@dataclass(frozen=True, slots=True)
class Reductions:
    """Eligible settled outcomes (credited or capped, grams > 0, not flagged) of the book's year."""

    total: Sums
    by_type: dict[str, Sums]
    by_month: dict[str, Sums]  # every month of the year, "YYYY-MM"
    by_month_and_type: dict[tuple[str, str], Sums]  # only the pairs with actions


@dataclass(frozen=True, slots=True)
class Flagged:
    """Outcomes that would be eligible but are flagged for review, and where their review stands."""

    actions: int = 0
    grams: int = 0
    awaiting_review: int = 0
    approved: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class RunLine:
    run_id: str
    period: str
    number: int
    status: str
    tree_size: int
    reduction_g: int
    carry_in_g: int
    carry_out_g: int
    tonnes: int
    points: int
    root: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class Credits:
    """Tonnes of the year's vintage by where they are now (current pieces; ``split`` ones excluded).
    ``total_t`` is the sum of the other five and equals the tonnes the runs issued; ``other_t`` (any
    other holder or state) should stay 0."""

    total_t: int = 0
    retired_for_pilot_t: int = 0
    held_by_pilot_t: int = 0
    sold_t: int = 0
    held_by_book_t: int = 0
    other_t: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """retired_for_pilot_t / target_t, rounded down: as per-mille and as a percent with one decimal."""

    per_mille: int
    percent: str

    @classmethod
    def of(cls, retired_t: int, target_t: int | None) -> Progress | None:
        if not target_t:
            return None
        per_mille = retired_t * 1000 // target_t
        return cls(per_mille, f"{per_mille // 10}.{per_mille % 10}%")


@dataclass(frozen=True, slots=True)
class PilotReport:
    book: str
    year: int
    generated_at: datetime
    target_t: int | None
    reductions: Reductions
    flagged: Flagged
    runs: list[RunLine]
    credits: Credits
    progress: Progress | None

    @property
    def certified(self) -> Sums:
        """What the year's runs certified: their actions (tree sizes), grams and points."""
        return Sums(
            sum(r.tree_size for r in self.runs),
            sum(r.reduction_g for r in self.runs),
            sum(r.points for r in self.runs),
        )

    def as_json(self) -> dict[str, Any]:
        """The report as the API answers it (docs/reports.md)."""
        r = self.reductions
        return {
            "book": self.book,
            "year": self.year,
            "generated_at": self.generated_at,
            "target_t": self.target_t,
            "reductions": {
                "total": asdict(r.total),
                "by_type": [{"type": t, **asdict(s)} for t, s in r.by_type.items()],
                "by_month": [{"month": m, **asdict(s)} for m, s in r.by_month.items()],
                "by_month_and_type": [
                    {"month": m, "type": t, **asdict(s)} for (m, t), s in r.by_month_and_type.items()
                ],
            },
            "flagged": asdict(self.flagged),
            "certified": {
                "actions": self.certified.actions,
                "grams": self.certified.grams,
                "points": self.certified.points,
                "tonnes": sum(run.tonnes for run in self.runs),
                "runs": [asdict(run) for run in self.runs],
            },
            "credits": asdict(self.credits),
            "progress": None if self.progress is None else asdict(self.progress),
        }

    def rows(self) -> Iterator[tuple[str, str, str, Any]]:
        """The same report as (section, key, metric, value) rows: its CSV and XLSX form."""
        doc = self.as_json()
        for metric in ("book", "year", "generated_at", "target_t"):
            yield ("report", "", metric, doc[metric])
        red = doc["reductions"]
        yield from _metrics("reductions.total", "", red["total"])
        for item in red["by_type"]:
            yield from _metrics("reductions.by_type", item["type"], item, skip=("type",))
        for item in red["by_month"]:
            yield from _metrics("reductions.by_month", item["month"], item, skip=("month",))
        for item in red["by_month_and_type"]:
            key = f"{item['month']}/{item['type']}"
            yield from _metrics("reductions.by_month_and_type", key, item, skip=("month", "type"))
        yield from _metrics("flagged", "", doc["flagged"])
        cert = doc["certified"]
        yield from _metrics("certified", "", cert, skip=("runs",))
        for run in cert["runs"]:
            yield from _metrics("certified.runs", run["run_id"], run, skip=("run_id",))
        yield from _metrics("credits", "", doc["credits"])
        yield from _metrics("progress", "", doc["progress"] or {"per_mille": None, "percent": None})


ROW_COLUMNS = ("section", "key", "metric", "value")


def _metrics(
    section: str, key: str, values: dict[str, Any], *, skip: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, str, Any]]:
    for metric, value in values.items():
        if metric not in skip:
            yield (section, key, metric, value)


def check_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidRequest(f"year {year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return year


async def pilot_report(db: Database, year: int, *, now: datetime | None = None) -> PilotReport:
    """The Nan'ao pilot's report for ``year`` (Asia/Shanghai), all of it from one snapshot."""
    check_year(year)
    async with db.read() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        target = (
            await conn.execute(
                select(TARGETS.c.target_t).where(TARGETS.c.book == BOOK, TARGETS.c.year == year)
            )
        ).scalar()
        target_t = None if target is None else int(target)
        credits = await _credits(conn, year)
        return PilotReport(
            book=BOOK,
            year=year,
            generated_at=now or datetime.now(UTC),
            target_t=target_t,
            reductions=await _reductions(conn, year),
            flagged=await _flagged(conn, year),
            runs=await _runs(conn, year),
            credits=credits,
            progress=Progress.of(credits.retired_for_pilot_t, target_t),
        )


def _months(year: int) -> list[Period]:
    return [Period(year, m) for m in range(1, 13)]


def _in_year(year: int) -> Any:
    return and_(
        # Inline, not a parameter: a generic plan of a prepared statement could not know that
        # the index partial on the pilot's book (ix_outcomes_nanao_occurred) serves it.
        OUTCOMES.c.book == literal_column(f"'{BOOK}'"),
        OUTCOMES.c.occurred_at >= Period(year, 1).start,
        OUTCOMES.c.occurred_at < Period(year + 1, 1).start,
        OUTCOMES.c.status.in_(ELIGIBLE_STATUSES),
        OUTCOMES.c.reduction_g > 0,
    )


def reductions_query(year: int) -> Select[Any]:
    """The year's eligible outcomes of the pilot, counted and summed by month and type."""
    months = _months(year)
    # The month of each outcome by the Shanghai bounds of the year's months, the same on both engines.
    month = case(*((OUTCOMES.c.occurred_at < p.end, p.month) for p in months[:-1]), else_=12)
    inner = (
        select(month.label("month"), OUTCOMES.c.type, OUTCOMES.c.reduction_g, OUTCOMES.c.points)
        .where(_in_year(year), OUTCOMES.c.flagged.is_(False))
        .subquery()
    )
    return (
        select(
            inner.c.month, inner.c.type, func.count(), func.sum(inner.c.reduction_g), func.sum(inner.c.points)
        )
        .group_by(inner.c.month, inner.c.type)
        .order_by(inner.c.month, inner.c.type)
    )


async def _reductions(conn: AsyncConnection, year: int) -> Reductions:
    months = _months(year)
    query = reductions_query(year)
    pairs = {
        (str(months[m - 1]), t): Sums(int(n), int(g), int(p)) for m, t, n, g, p in await conn.execute(query)
    }
    by_month = {str(p): Sums() for p in months}
    by_type: dict[str, Sums] = {}
    for (m, t), s in pairs.items():
        by_month[m] += s
        by_type[t] = by_type.get(t, Sums()) + s
    total = sum(pairs.values(), Sums())
    return Reductions(total, dict(sorted(by_type.items())), by_month, pairs)


async def _flagged(conn: AsyncConnection, year: int) -> Flagged:
    review = and_(REVIEWS.c.partner_id == OUTCOMES.c.partner_id, REVIEWS.c.event_id == OUTCOMES.c.event_id)
    query = (
        select(REVIEWS.c.decision, func.count(), func.sum(OUTCOMES.c.reduction_g))
        .select_from(OUTCOMES.outerjoin(REVIEWS, review))
        .where(_in_year(year), OUTCOMES.c.flagged.is_(True))
        .group_by(REVIEWS.c.decision)
    )
    by_decision = {d: (int(n), int(g)) for d, n, g in await conn.execute(query)}
    return Flagged(
        actions=sum(n for n, _ in by_decision.values()),
        grams=sum(g for _, g in by_decision.values()),
        awaiting_review=by_decision.get(None, (0, 0))[0],
        approved=by_decision.get("approved", (0, 0))[0],
        rejected=by_decision.get("rejected", (0, 0))[0],
    )


async def _runs(conn: AsyncConnection, year: int) -> list[RunLine]:
    names = RunLine.__dataclass_fields__
    query = (
        select(*(RUNS.c[n] for n in names))
        .where(RUNS.c.book == BOOK, RUNS.c.vintage == year)
        .order_by(RUNS.c.number)
    )
    return [RunLine(**row._asdict()) for row in await conn.execute(query)]


async def _credits(conn: AsyncConnection, year: int) -> Credits:
    query = (
        select(
            RANGES.c.account_id,
            ACCOUNTS.c.kind,
            RANGES.c.status,
            func.sum(RANGES.c["last"] - RANGES.c["first"] + 1),
        )
        .select_from(RANGES.outerjoin(ACCOUNTS, ACCOUNTS.c.account_id == RANGES.c.account_id))
        .where(RANGES.c.book == BOOK, RANGES.c.vintage == year, RANGES.c.status != "split")
        .group_by(RANGES.c.account_id, ACCOUNTS.c.kind, RANGES.c.status)
    )
    buckets: dict[str, int] = {}
    for account, kind, status, tonnes in await conn.execute(query):
        bucket = _bucket(account, kind, status)
        buckets[bucket] = buckets.get(bucket, 0) + int(tonnes)
    return Credits(total_t=sum(buckets.values()), **buckets)


def _bucket(account: str, kind: str | None, status: str) -> str:
    """Which figure a piece counts in: only the pilot's retirements count towards its target."""
    if account == PILOT_ACCOUNT:
        return "retired_for_pilot_t" if status == "retired" else "held_by_pilot_t"
    if kind == "buyer":
        return "sold_t"
    if account == BOOK and status == "active":
        return "held_by_book_t"
    return "other_t"
