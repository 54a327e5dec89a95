"""Certified runs whose ranges the registry tests move and retire, and snapshots of the registry
to prove that a refused operation changed nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from backend.certification.books import ACCOUNTS
from backend.certification.runs import RANGES, RunRecord, certify
from backend.context import Platform
from backend.models import AuditRecord
from backend.registry import create_buyer
from tests.integration.certification.seed import Seeded, seed

NOV = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
GRAMS = 500_000  # two actions make a tonne: a run of 2n actions issues exactly n tonnes
_events = itertools.count()


async def issue_run(platform: Platform, book: str = "nanao", tonnes: int = 10) -> RunRecord:
    """A certification run of ``book`` over 2026-11 that issues exactly ``tonnes`` tonnes, held by
    the book's own account."""
    items = []
    for _ in range(2 * tonnes):
        i = next(_events)
        items.append(
            Seeded(
                partner_id="transit_st",
                event_id=f"ev-{i:06d}",
                citizen_id=f"c_{i % 7:04d}",
                occurred_at=NOV + timedelta(minutes=i),
                reduction_g=GRAMS,
                points=GRAMS // 10,
                book=book,
            )
        )
    await seed(platform, items)
    run = await certify(platform.db, book, "2026-11", actor="admin:test")
    assert run.tonnes == tonnes and run.serial is not None
    return run


async def make_buyer(platform: Platform, account_id: str = "acme-corp") -> str:
    await create_buyer(platform.db, account_id, f"Buyer {account_id}", actor="admin:test")
    return account_id


async def snapshot(platform: Platform) -> dict[str, Any]:
    """Everything a registry operation may change: every piece, every account, the audit log's length."""
    async with platform.db.read() as conn:
        ranges = sorted(tuple(r) for r in await conn.execute(select(RANGES)))
        accounts = sorted(tuple(r) for r in await conn.execute(select(ACCOUNTS)))
        events = (await conn.execute(select(func.count()).select_from(AuditRecord))).scalar_one()  # type: ignore[arg-type]
    return {"ranges": ranges, "accounts": accounts, "audit_events": events}


async def current_pieces(platform: Platform, run_id: str) -> list[Any]:
    """The active and retired pieces of a run, in tonne order."""
    async with platform.db.read() as conn:
        query = (
            select(RANGES)
            .where(RANGES.c.run_id == run_id, RANGES.c.status.in_(("active", "retired")))
            .order_by(RANGES.c["first"])
        )
        return list(await conn.execute(query))


async def assert_tiles(platform: Platform, run: RunRecord) -> list[Any]:
    """The run's current pieces cover tonnes 1..tonnes exactly: no gap, no overlap."""
    pieces = await current_pieces(platform, run.run_id)
    covered = [t for p in pieces for t in range(p.first, p.last + 1)]
    assert covered == list(range(1, run.tonnes + 1)), [(p.first, p.last, p.status) for p in pieces]
    return pieces
