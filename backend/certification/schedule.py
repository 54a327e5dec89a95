"""Certification on a schedule, run by the settlement workers: every ``certify_interval_s``, each
book's previous and current period (late reports of last month settle for up to 7 days), and any
period with approvals waiting. Whichever worker claims the interval's slot runs it; the slot is a
row in the database, so any number of workers run it once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select

from backend import slots
from backend.certification.runs import REVIEWS, certify
from backend.context import Platform
from backend.errors import NothingToCertify
from points_engine.certification import Period
from points_engine.regions import BOOKS

log = logging.getLogger(__name__)
SLOT = "certify"


async def run_certification_schedule(platform: Platform, stop: asyncio.Event) -> None:
    interval = platform.settings.certify_interval_s
    await slots.every(platform.db, SLOT, interval, lambda: certify_due(platform), stop)


async def claim_slot(platform: Platform, interval: float, now: datetime | None = None) -> bool:
    """True for exactly one caller per interval."""
    return await slots.claim(platform.db, SLOT, interval, now)


async def certify_due(platform: Platform, now: datetime | None = None) -> list[str]:
    """Run every due (book, period); the run ids issued."""
    now = now or datetime.now(UTC)
    current = Period.containing(now)
    due = {(book, p) for book in BOOKS for p in (str(current.previous()), str(current))}
    async with platform.db.read() as conn:
        due |= set(
            await conn.execute(
                select(REVIEWS.c.book, REVIEWS.c.period)
                .where(REVIEWS.c.decision == "approved", REVIEWS.c.run_id.is_(None))
                .distinct()
            )
        )
    issued = []
    for book, period in sorted(due):
        try:
            run = await certify(platform.db, book, period, actor="schedule", now=now)
        except NothingToCertify:
            continue
        log.info("certified %s: %d actions, %d t", run.run_id, run.tree_size, run.tonnes)
        issued.append(run.run_id)
    return issued
