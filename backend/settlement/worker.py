"""A settlement worker: leases a fair share of the partitions and settles their streams.

Workers share the partitions through leases in the database (``settlement_partitions``): each
renews its own every second (at most every ``lease_s / 3``) and takes free or expired ones up
to ``ceil(partitions / live workers)``, giving back any above that share. A worker that dies
(kill -9) stops renewing; after ``lease_s`` another takes its partitions with a new epoch,
reclaims its unacknowledged entries, and settles them again to the identical result. The owner
of partition 0 also sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from backend.context import Platform
from backend.db import Tx
from backend.settlement import repository as repo
from backend.settlement.settler import PartitionSettler
from backend.settlement.sweeper import sweep
from backend.settlement.writer import Lease, SettlementWriter

log = logging.getLogger(__name__)

Service = Callable[[Platform, asyncio.Event], Awaitable[None]]

# Lease rounds, at most this far apart. A worker that joins is seen by the others at their next
# round, where they give back what is above their share; it takes those at its own next round,
# soon (``_SHORT_ROUND_S``) while it holds less than any fair share. At ``lease_s / 3`` (5 s) apart a
# worker started under load got its partitions 5–10 s late, and partitions given back stayed
# without an owner for up to 5 s: settlement stalled (measured in the bench with two workers:
# 0.5 of 2 cores busy for 5 s). A round is a handful of one-row statements.
_ROUND_S = 1.0
_SHORT_ROUND_S = 0.2


@dataclass
class _Held:
    lease: Lease
    stop: asyncio.Event
    task: asyncio.Task[None]


@dataclass
class Worker:
    platform: Platform
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )
    services: tuple[Service, ...] = ()  # more loops to run beside settlement (webhook delivery)
    held: dict[int, _Held] = field(default_factory=dict)
    writer: SettlementWriter = field(init=False)  # the partitions' batches ready together commit together

    def __post_init__(self) -> None:
        self.writer = SettlementWriter(self.platform)

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.platform.settings
        async with self.platform.db.transaction() as tx:
            await repo.ensure_partitions(tx.conn, settings.settle_partitions)
        loops = [("sweeper", self._sweep), *((s.__name__, partial(s, self.platform)) for s in self.services)]
        extra = [asyncio.create_task(self._guard(name, loop, stop)) for name, loop in loops]
        try:
            while not stop.is_set():
                short = False
                try:
                    short = await self.balance()
                except Exception:
                    log.exception("worker %s: lease round failed", self.worker_id)
                pause = min(settings.lease_s / 3, _SHORT_ROUND_S if short else _ROUND_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        finally:
            await self._shutdown(extra)

    async def balance(self) -> bool:
        """One lease round: heartbeat, renew, give back above the fair share, take up to it.
        Whether this worker holds fewer than ``partitions // live workers`` (less than any fair
        share: others have yet to give some back)."""
        settings, db = self.platform.settings, self.platform.db
        now = datetime.now(UTC)
        partitions = settings.settle_partitions
        # Stopped on an error: retaken with a new epoch.
        await self._drop_all([p for p, held in self.held.items() if held.task.done()], release=True)

        async def renew_all(tx: Tx) -> tuple[int, list[int]]:
            live = await repo.heartbeat(tx.conn, self.worker_id, now, dead_after_s=settings.lease_s)
            lost = [
                partition
                for partition in sorted(self.held)  # one lock order for every worker: no deadlock
                if not await repo.renew(
                    tx.conn,
                    partition,
                    self.worker_id,
                    self.held[partition].lease.epoch,
                    now,
                    settings.lease_s,
                )
            ]
            return live, lost

        live, lost = await db.run(renew_all)
        for partition in lost:
            log.warning("worker %s lost partition %d", self.worker_id, partition)
        await self._drop_all(lost, release=False)
        share = math.ceil(partitions / max(live, 1))
        await self._drop_all(sorted(self.held, reverse=True)[: max(len(self.held) - share, 0)], release=True)
        start = int(uuid.uuid5(uuid.NAMESPACE_OID, self.worker_id).int % partitions)
        for partition in ((start + i) % partitions for i in range(partitions)):
            if len(self.held) >= share:
                break
            if partition not in self.held:
                # One row per transaction: taking several at once could deadlock with a worker
                # taking them in another order.
                epoch = await db.run(partial(self._acquire, partition, now))
                if epoch is not None:
                    self._start(Lease(partition, epoch, self.worker_id))
        return len(self.held) < partitions // max(live, 1)

    async def _acquire(self, partition: int, now: datetime, tx: Tx) -> int | None:
        lease_s = self.platform.settings.lease_s
        return await repo.acquire(tx.conn, partition, self.worker_id, now, lease_s)

    def _start(self, lease: Lease) -> None:
        stop = asyncio.Event()
        settler = PartitionSettler(self.platform, lease, writer=self.writer)
        task = asyncio.create_task(settler.run(stop), name=f"settle-{lease.partition}")
        self.held[lease.partition] = _Held(lease, stop, task)
        log.info("worker %s settles partition %d (epoch %d)", self.worker_id, lease.partition, lease.epoch)

    async def _drop_all(self, partitions: list[int], release: bool) -> None:
        """Stop ``partitions`` together: each settler ends its current read (up to settle_block_ms)
        and batch, so one after another a worker handing four back took ~1 s more."""
        await asyncio.gather(*(self._drop(partition, release) for partition in partitions))

    async def _drop(self, partition: int, release: bool) -> None:
        held = self.held.pop(partition)
        held.stop.set()
        try:
            await asyncio.wait_for(held.task, timeout=30)
        except Exception:
            log.exception("partition %d stopped with an error", partition)
        if release:
            async with self.platform.db.transaction() as tx:
                await repo.release(tx.conn, partition, self.worker_id, held.lease.epoch)

    def owns(self, partition: int) -> bool:
        held = self.held.get(partition)
        return held is not None and not held.task.done()

    async def _guard(
        self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                await loop(stop)
                return
            except Exception:
                log.exception("worker %s: %s failed; restarting it", self.worker_id, name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def _sweep(self, stop: asyncio.Event) -> None:
        interval = self.platform.settings.sweep_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if self.owns(0) and not stop.is_set():
                await sweep(self.platform)

    async def _shutdown(self, extra: list[asyncio.Task[None]]) -> None:
        await self._drop_all(list(self.held), release=True)
        for task in extra:
            task.cancel()
        await asyncio.gather(*extra, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with self.platform.db.transaction() as tx:
                await repo.leave(tx.conn, self.worker_id)
