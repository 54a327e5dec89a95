"""Periodic jobs that any number of workers run once per interval: whoever claims the interval's
slot (a row of ``settlement_cursors``, moved forward in one conditional UPDATE) does the work. A job
may also ``mark`` when it last completed (another row) and read it back with ``marked``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, update

from backend.db import Database
from backend.models import SettlementCursor
from backend.settlement.repository import cursor, dialect_insert, set_cursor

log = logging.getLogger(__name__)
CURSORS: Table = SettlementCursor.__table__  # type: ignore[assignment]
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


async def claim(db: Database, slot: str, interval: float, now: datetime | None = None) -> bool:
    """True for exactly one caller per ``interval`` seconds of ``slot``."""
    now = now or datetime.now(UTC)
    async with db.transaction() as tx:
        await tx.conn.execute(
            dialect_insert(tx.conn, CURSORS).on_conflict_do_nothing(), [{"name": slot, "at": NEVER}]
        )
        claimed = await tx.conn.execute(
            update(CURSORS)
            .where(CURSORS.c.name == slot, CURSORS.c.at <= now - timedelta(seconds=interval))
            .values(at=now)
        )
        return bool(claimed.rowcount)


async def marked(db: Database, name: str) -> datetime | None:
    """When ``mark`` last recorded ``name``; None if it never did."""
    async with db.read() as conn:
        return await cursor(conn, name)


async def mark(db: Database, name: str, at: datetime) -> None:
    """Record ``at`` as the time of ``name`` (one row, overwritten), in a transaction of its own."""
    async with db.transaction() as tx:
        await set_cursor(tx.conn, name, at)


async def every(
    db: Database, slot: str, interval: float, job: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Until ``stop``: claim the slot (checked at least once a minute) and, when claimed, run ``job``.
    A failed job is logged and waits for the next interval; ``interval`` <= 0 runs nothing."""
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            if await claim(db, slot, interval):
                await job()
        except Exception:
            log.exception("periodic job %s failed", slot)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), min(interval, 60.0))
