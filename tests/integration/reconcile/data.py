"""Settled outcomes with their accepted actions, certified: a database every check agrees with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from backend.certification.runs import certify
from backend.context import Platform
from backend.models import AcceptedAction, CertificationRun
from backend.reconcile import Reconciliation
from tests.integration.certification.seed import Seeded, seed
from tests.integration.certification.test_runs import NOV

ACTIONS = AcceptedAction.__table__  # type: ignore[attr-defined]
RUNS = CertificationRun.__table__  # type: ignore[attr-defined]


def actions(n: int, *, start: int = 0, book: str = "shantou") -> list[Seeded]:
    """``n`` credited bus trips of 17 citizens, 20 minutes apart from 2026-11-03 on (all in November
    for ``start + n`` up to 1,900), of three partners."""
    return [
        Seeded(
            partner_id=("transit_st", "bike_st", "waste_st")[i % 3],
            event_id=f"ev-{i:06d}",
            citizen_id=f"c_{i % 17:04d}",
            occurred_at=NOV + timedelta(minutes=20 * i),
            reduction_g=180_000 + i,
            points=(180_000 + i) // 10,
            book=book,
        )
        for i in range(start, start + n)
    ]


async def accept(platform: Platform, items: Sequence[Seeded]) -> None:
    """The accepted actions behind ``items``, received a minute after they occurred."""
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            ACTIONS.insert(),
            [
                {
                    "partner_id": i.partner_id,
                    "event_id": i.event_id,
                    "citizen_id": i.citizen_id,
                    "user": f"u_{i.citizen_id}",
                    "type": i.type,
                    "occurred_at": i.occurred_at,
                    "region": "440523" if i.book == "nanao" else "440507",
                    "book": i.book,
                    "data": {},
                    "content_hash": "0" * 64,
                    "received_at": i.occurred_at + timedelta(minutes=1),
                }
                for i in items
            ],
        )


async def settled(platform: Platform, items: Sequence[Seeded]) -> None:
    await accept(platform, items)
    await seed(platform, items)


async def certified_history(platform: Platform) -> list[dict[str, Any]]:
    """Two Shantou runs of 2026-11 (the first of two chunks, the second of late actions) and a
    Nan'ao run, over outcomes that include a flagged, a rejected and an October one: the runs."""
    items = actions(1100)
    items += [
        Seeded("transit_st", "flagged-1", "c_0001", NOV, 5000, 500, flagged=True),
        Seeded("transit_st", "rejected-1", "c_0001", NOV, 0, 0, status="rejected"),
        Seeded("transit_st", "october", "c_0002", NOV - timedelta(days=5), 9000, 900),
    ]
    await settled(platform, items)
    await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    await settled(platform, actions(40, start=1200) + actions(12, start=1500, book="nanao"))
    await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    await certify(platform.db, "nanao", "2026-11", actor="admin:test")
    async with platform.db.read() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(RUNS).order_by(RUNS.c.run_id))]


async def alter(platform: Platform, sql: str, **params: Any) -> None:
    """Change a row behind the application's back (audit_log: its append-only trigger skipped)."""
    async with platform.db.transaction() as tx:
        if not platform.db.is_sqlite:
            await tx.conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        await tx.conn.execute(text(sql), params)


async def scalar(platform: Platform, sql: str, **params: Any) -> Any:
    async with platform.db.read() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


def named(report: Reconciliation) -> set[tuple[str, str, str]]:
    """(check, code, subject) of every finding."""
    return {(f.check, f.code, f.subject) for f in report.findings}
