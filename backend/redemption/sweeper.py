"""The workers' loop that voids expired reservations, so held points and stock come back even if
nobody touches the reservation again. Any number of workers may run it: each void locks its
citizen and re-checks the reservation, so a reservation is voided once."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from backend.context import Platform
from backend.redemption.reservations import sweep_expired

log = logging.getLogger(__name__)


async def run_reservation_sweeper(platform: Platform, stop: asyncio.Event) -> None:
    interval = platform.settings.reservation_sweep_interval_s
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            voided = await sweep_expired(platform)
            if voided:
                log.info("voided %d expired reservations", voided)
        except Exception:
            log.exception("sweeping expired reservations failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
