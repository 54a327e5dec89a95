"""``tanhui worker``: settlement (and webhook delivery) as a process of its own, until SIGTERM.

It does not migrate: `tanhui migrate` (or `tanhui serve`) brings the database to the schema first.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import uvloop

from backend.campaigns.grants import run_campaign_grants
from backend.certification.schedule import run_certification_schedule
from backend.context import Platform
from backend.expiry import run_expiry
from backend.heap import freeze_startup_heap
from backend.redemption.sweeper import run_reservation_sweeper
from backend.settings import Settings
from backend.settlement.worker import Service, Worker
from backend.webhooks.dispatcher import run_dispatcher


def background_services() -> tuple[Service, ...]:
    """The loops a worker runs beside settlement."""
    return (
        run_dispatcher,
        run_certification_schedule,
        run_reservation_sweeper,
        run_campaign_grants,
        run_expiry,
    )


def run_worker(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        platform = await Platform.open(settings)
        freeze_startup_heap()
        try:
            await Worker(platform, services=background_services()).run(stop)
        finally:
            await platform.close()

    # uvloop, as uvicorn uses for the API: a worker's time goes mostly to round trips to PostgreSQL
    # and Redis, and each costs about half the CPU there.
    uvloop.run(main())
