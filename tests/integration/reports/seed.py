"""A small world for the reports: Nan'ao and Shantou outcomes around the edges of 2026 (Asia/Shanghai),
flagged ones with and without reviews, runs of both books, and the registry's pieces after the
transfers and retirements another module makes (written here directly, as that module would).

Everything the reports should say is computed here from the seeded values alone, without the
code under test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from backend.certification.runs import RunRecord, certify
from backend.context import Platform
from backend.models import CreditRange, RegistryAccount, Review
from tests.integration.certification.seed import Seeded, seed

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2026
AFTER_ALL = datetime(2027, 2, 1, tzinfo=UTC)  # "now" for the runs: every period has begun
METHODS = {
    "trip": "trip.bus@2026.1",
    "waste_sorting": "waste.recyclable.paper@2026.1",
    "clean_plate": "clean_plate@2026.1",
}
PARTNERS = ("transit_st", "bike_st", "waste_st")
RUN_PERIODS = (("nanao", "2025-12"), ("nanao", "2026-01"), ("nanao", "2026-03"), ("shantou", "2026-01"))
BUYERS = {"buyer_gd_power": "Guangdong Power Co.", "buyer_st_port": "Shantou Port Ltd."}


def shanghai(month: int, day: int, hour: int = 12, minute: int = 0, year: int = YEAR) -> datetime:
    """A Shanghai wall-clock time, as the UTC instant outcomes store."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def _outcome(n: int, at: datetime, grams: int, **kw: Any) -> Seeded:
    kind = kw.pop("type", ("trip", "waste_sorting", "clean_plate")[(n // 2) % 3])
    return Seeded(
        partner_id=kw.pop("partner_id", PARTNERS[n % 3]),
        event_id=f"ev-{n:05d}",
        citizen_id=f"c_{n % 7:04d}",
        occurred_at=at,
        reduction_g=grams,
        points=kw.pop("points", grams // 1000),
        book=kw.pop("book", "nanao"),
        type=kind,
        methodology=kw.pop("methodology", METHODS[kind]),
        **kw,
    )


def outcomes() -> list[Seeded]:
    """Nan'ao outcomes through 2026 and at its edges, plus Shantou's and other years'."""
    items: list[Seeded] = []
    n = 0

    def add(at: datetime, grams: int, **kw: Any) -> None:
        nonlocal n
        items.append(_outcome(n, at, grams, **kw))
        n += 1

    for i in range(24):  # January: 12.0+ t
        add(shanghai(1, 2 + i, 8), 520_000 + 1_000 * i)
    add(shanghai(1, 1, 0, 30), 700_000)  # 2025-12-31 16:30 UTC: January in Shanghai
    add(shanghai(2, 1, 0, 0), 400_000)  # the first instant of February
    for i in range(9):  # March: 5.x t with the approved flagged one
        add(shanghai(3, 3 + i, 9), 600_000 + 7 * i, status="capped" if i == 4 else "credited")
    add(shanghai(7, 15), 333_333, type="trip")
    add(shanghai(12, 31, 23, 59), 250_000)  # the last minute of the year in Shanghai
    add(shanghai(1, 1, 0, 0, year=YEAR + 1), 900_000)  # 2027 in Shanghai, 2026-12-31 in UTC
    add(shanghai(12, 31, 23, 0, year=YEAR - 1), 1_200_000)  # 2025-12: a run of vintage 2025
    add(shanghai(12, 20, year=YEAR - 1), 300_000)
    # Not counted as reductions:
    add(shanghai(3, 20), 0, status="rejected", points=0)
    add(shanghai(4, 2), 0, type="waste_sorting", methodology="waste.hazardous@2026.1")  # credited, no grams
    add(shanghai(3, 21), 450_000, flagged=True)  # approved: certified by the March run
    add(shanghai(5, 6), 150_000, flagged=True)  # rejected by its reviewer
    add(shanghai(6, 7), 80_000, flagged=True)  # awaiting review
    add(shanghai(6, 8), 90_000, flagged=True, status="rejected", points=0)  # flagged but rejected anyway
    for i in range(6):  # Shantou's January: another book
        add(shanghai(1, 5 + i), 800_000, book="shantou")
    return items


REVIEWS = {"ev-00042": ("approved", "2026-03"), "ev-00043": ("rejected", "2026-05")}


def eligible(item: Seeded) -> bool:
    return item.status in ("credited", "capped") and item.reduction_g > 0 and not item.flagged


def local_month(item: Seeded) -> str:
    return item.occurred_at.astimezone(TZ).strftime("%Y-%m")


def in_year(item: Seeded, book: str = "nanao", year: int = YEAR) -> bool:
    return item.book == book and item.occurred_at.astimezone(TZ).year == year


@dataclass
class Piece:
    tonnes: int
    account: str
    status: str = "active"
    beneficiary: str | None = None
    purpose: str | None = None
    serial: str = ""  # set once placed in its range
    first: int = 0
    last: int = 0


@dataclass
class World:
    items: list[Seeded]
    runs: dict[str, RunRecord] = field(default_factory=dict)
    pieces: dict[str, list[Piece]] = field(default_factory=dict)  # by run_id, after the splits
    target_t: int = 9


# Where each Nan'ao run's tonnes went (the rest of a range stays with the book's account).
SPLITS = {
    "run_nanao_2025-12_000001": [Piece(1, "nanao-pilot", "retired", "南澳县", "2025 neutrality")],
    "run_nanao_2026-01_000002": [
        Piece(3, "nanao-pilot", "retired", "南澳县", "2026 neutrality"),
        Piece(2, "nanao-pilot"),
        Piece(3, "buyer_gd_power", "retired", '=HYPERLINK("https://x.example")', "+offset 2026"),
        Piece(1, "buyer_st_port"),
    ],
    "run_nanao_2026-03_000003": [Piece(2, "nanao-pilot", "retired", "南澳县", "2026 neutrality")],
}


async def build_world(platform: Platform, *, splits: bool = True) -> World:
    """Seed the outcomes and reviews, certify 2025-12, 2026-01 and 2026-03 of Nan'ao and 2026-01 of
    Shantou, open the buyers' accounts and split the Nan'ao ranges as SPLITS says."""
    world = World(outcomes())
    await seed(platform, world.items)
    async with platform.db.transaction() as tx:
        for event_id, (decision, period) in REVIEWS.items():
            item = next(i for i in world.items if i.event_id == event_id)
            await tx.conn.execute(
                insert(Review).values(
                    partner_id=item.partner_id,
                    event_id=event_id,
                    decision=decision,
                    reviewer="op_reviewer",
                    note="",
                    book="nanao",
                    period=period,
                    decided_at=tx.started_at,
                )
            )
    for book, period in RUN_PERIODS:
        run = await certify(platform.db, book, period, actor="op_admin", now=AFTER_ALL)
        world.runs[run.run_id] = run
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            insert(RegistryAccount),
            [
                {"account_id": a, "kind": "buyer", "name": n, "book": None, "created_at": tx.started_at}
                for a, n in BUYERS.items()
            ],
        )
    if splits:
        for run_id, pieces in SPLITS.items():
            world.pieces[run_id] = await split(platform, world.runs[run_id], pieces)
    return world


def serial(book: str, vintage: int, run: int, first: int, last: int) -> str:
    return f"TH-{book.upper()}-{vintage}-{run:06d}-{first:09d}-{last:09d}"


async def split(platform: Platform, run: RunRecord, pieces: Sequence[Piece]) -> list[Piece]:
    """Replace the run's range by ``pieces`` in order, the remainder staying with the book's account."""
    assert run.serial is not None
    left = run.tonnes - sum(p.tonnes for p in pieces)
    assert left >= 0
    pieces = [*pieces, *([Piece(left, run.book)] if left else [])]
    async with platform.db.transaction() as tx:
        if len(pieces) == 1:  # the whole range moved or retired: no split, the range itself changes
            p = pieces[0]
            await tx.conn.execute(
                update(CreditRange)
                .where(CreditRange.serial == run.serial)
                .values(
                    account_id=p.account,
                    status=p.status,
                    beneficiary=p.beneficiary,
                    purpose=p.purpose,
                    retired_at=tx.started_at if p.status == "retired" else None,
                )
            )
            return [replace(p, serial=run.serial, first=1, last=run.tonnes)]
        await tx.conn.execute(
            update(CreditRange).where(CreditRange.serial == run.serial).values(status="split")
        )
        placed, first = [], 1
        for p in pieces:
            last = first + p.tonnes - 1
            piece = replace(
                p, serial=serial(run.book, run.vintage, run.number, first, last), first=first, last=last
            )
            placed.append(piece)
            await tx.conn.execute(
                insert(CreditRange).values(
                    serial=piece.serial,
                    run_id=run.run_id,
                    book=run.book,
                    vintage=run.vintage,
                    run_number=run.number,
                    first=first,
                    last=last,
                    account_id=p.account,
                    status=p.status,
                    parent=run.serial,
                    beneficiary=p.beneficiary,
                    purpose=p.purpose,
                    retired_at=tx.started_at if p.status == "retired" else None,
                    created_at=tx.started_at,
                )
            )
            first = last + 1
    return placed


def expected_pieces(world: World) -> list[tuple[RunRecord, Piece]]:
    """Every current piece with its run, in (book, vintage, run, first) order."""
    out = []
    for run in sorted(world.runs.values(), key=lambda r: (r.book, r.vintage, r.number)):
        if run.serial is not None:
            whole = [Piece(run.tonnes, run.book, serial=run.serial, first=1, last=run.tonnes)]
            out += [(run, p) for p in world.pieces.get(run.run_id, whole)]
    return out


ACCOUNT_KINDS = {"nanao": "book", "shantou": "book", "nanao-pilot": "pilot", **dict.fromkeys(BUYERS, "buyer")}


def expected_totals(world: World, column: str) -> dict[str, tuple[int, ...]]:
    """Per partner_id or methodology: actions, credited, capped, rejected, flagged, grams, points,
    certified grams."""
    out = {}
    done = certified(world)
    for key in sorted({getattr(i, column) for i in world.items}):
        mine = [i for i in world.items if getattr(i, column) == key]
        statuses = [i.status for i in mine]
        out[key] = (
            len(mine),
            statuses.count("credited"),
            statuses.count("capped"),
            statuses.count("rejected"),
            sum(i.flagged for i in mine),
            sum(i.reduction_g for i in mine if i.status in ("credited", "capped")),
            sum(i.points for i in mine),
            sum(i.reduction_g for i in done if getattr(i, column) == key),
        )
    return out


async def current_pieces(platform: Platform) -> list[Any]:
    async with platform.db.read() as conn:
        return list(await conn.execute(select(CreditRange).where(CreditRange.status != "split")))


def _sums(items: Sequence[Seeded]) -> dict[str, int]:
    return {
        "actions": len(items),
        "grams": sum(i.reduction_g for i in items),
        "points": sum(i.points for i in items),
    }


def run_members(world: World, book: str, period: str) -> list[Seeded]:
    """What the run of ``book`` and ``period`` covers: its eligible actions and the approved flagged ones."""
    approved = {e: p for e, (d, p) in REVIEWS.items() if d == "approved"}
    return [
        i
        for i in world.items
        if i.book == book
        and ((eligible(i) and local_month(i) == period) or approved.get(i.event_id) == period)
    ]


def certified(world: World) -> list[Seeded]:
    """Every action some run covers."""
    return [i for book, period in RUN_PERIODS for i in run_members(world, book, period)]


def expected_runs(world: World, book: str = "nanao") -> list[dict[str, Any]]:
    """The book's runs in order, as certification must have made them: members, grams, carry, tonnes."""
    out, carry = [], 0
    for number, period in enumerate(p for b, p in RUN_PERIODS if b == book):
        members = run_members(world, book, period)
        grams = sum(i.reduction_g for i in members)
        tonnes, carry_out = divmod(carry + grams, 1_000_000)
        out.append(
            {
                "run_id": f"run_{book}_{period}_{number + 1:06d}",
                "period": period,
                "number": number + 1,
                "tree_size": len(members),
                "reduction_g": grams,
                "carry_in_g": carry,
                "carry_out_g": carry_out,
                "tonnes": tonnes,
                "points": sum(i.points for i in members),
            }
        )
        carry = carry_out
    return out


def expected_report(world: World, year: int = YEAR) -> dict[str, Any]:
    """The pilot report for ``year`` from the seeded values alone (all but generated_at and the runs'
    roots and times)."""
    mine = [i for i in world.items if in_year(i, "nanao", year)]
    counted = [i for i in mine if eligible(i)]
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    types = sorted({i.type for i in counted})
    pairs = sorted({(local_month(i), i.type) for i in counted})
    flagged = [i for i in mine if i.flagged and i.status in ("credited", "capped") and i.reduction_g > 0]
    decisions = [REVIEWS.get(i.event_id, (None, None))[0] for i in flagged]
    runs = [r for r in expected_runs(world) if r["period"].startswith(f"{year}-")]
    pieces = [p for run_id, ps in world.pieces.items() if f"_{year}-" in run_id for p in ps]

    def tonnes(ok: Any) -> int:
        return sum(p.tonnes for p in pieces if ok(p))

    credits = {
        "retired_for_pilot_t": tonnes(lambda p: p.account == "nanao-pilot" and p.status == "retired"),
        "held_by_pilot_t": tonnes(lambda p: p.account == "nanao-pilot" and p.status == "active"),
        "sold_t": tonnes(lambda p: p.account in BUYERS),
        "held_by_book_t": tonnes(lambda p: p.account == "nanao" and p.status == "active"),
        "other_t": 0,
    }
    credits = {"total_t": sum(r["tonnes"] for r in runs), **credits}
    retired, target = credits["retired_for_pilot_t"], world.target_t
    return {
        "book": "nanao",
        "year": year,
        "target_t": target,
        "reductions": {
            "total": _sums(counted),
            "by_type": [{"type": t, **_sums([i for i in counted if i.type == t])} for t in types],
            "by_month": [{"month": m, **_sums([i for i in counted if local_month(i) == m])} for m in months],
            "by_month_and_type": [
                {"month": m, "type": t, **_sums([i for i in counted if (local_month(i), i.type) == (m, t)])}
                for m, t in pairs
            ],
        },
        "flagged": {
            "actions": len(flagged),
            "grams": sum(i.reduction_g for i in flagged),
            "awaiting_review": decisions.count(None),
            "approved": decisions.count("approved"),
            "rejected": decisions.count("rejected"),
        },
        "certified": {
            "actions": sum(r["tree_size"] for r in runs),
            "grams": sum(r["reduction_g"] for r in runs),
            "points": sum(r["points"] for r in runs),
            "tonnes": sum(r["tonnes"] for r in runs),
            "runs": runs,
        },
        "credits": credits,
        "progress": {
            "per_mille": retired * 1000 // target,
            "percent": f"{retired * 100 // target}.{retired * 1000 // target % 10}%",
        },
    }
