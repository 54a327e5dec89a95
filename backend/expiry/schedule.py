"""Expiry on a schedule, run by the workers: every ``expiry_interval_s`` one worker claims the slot
(a row in the database, so any number of workers run it once) and sweeps, unless a sweep of the
same Shanghai day has completed. Points fall due at the start of a Shanghai day only, so one
complete sweep a day expires everything; the hourly claims retry a sweep that failed."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from backend import slots
from backend.context import Platform
from backend.expiry.sweeper import SweepReport, sweep
from points_engine.expiry import shanghai_date

log = logging.getLogger(__name__)
SLOT = "expiry"  # when a worker last claimed the sweep
SWEPT = "expiry-swept"  # when the last sweep completed


async def run_expiry(platform: Platform, stop: asyncio.Event) -> None:
    interval = platform.settings.expiry_interval_s
    await slots.every(platform.db, SLOT, interval, lambda: sweep_daily(platform), stop)


async def claim_slot(platform: Platform, interval: float, now: datetime | None = None) -> bool:
    """True for exactly one caller per interval."""
    return await slots.claim(platform.db, SLOT, interval, now)


async def sweep_daily(platform: Platform, now: datetime | None = None) -> SweepReport | None:
    """Sweep at ``now`` unless a sweep of its Shanghai day has completed: the report, or None."""
    now = now or datetime.now(UTC)
    swept = await slots.marked(platform.db, SWEPT)
    if swept is not None and shanghai_date(swept) >= shanghai_date(now):
        return None
    report = await sweep(platform, now)
    await slots.mark(platform.db, SWEPT, now)
    log.info("expiry sweep: %s", report.as_dict())
    return report
