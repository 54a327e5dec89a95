"""Writing settled batches: the batches of a worker's partitions that are ready together share one
transaction.

Each partition settles on its own (its lease, its stream, its order), but each write is a
transaction: a commit, five round trips and ~1 ms of Python whatever it carries. Under a trickle of
single actions a worker holding eight partitions would commit eight small transactions per linger
period. Through group commit the partitions whose batches are ready at once (their lingers end on
the same tick, ``settler.until_tick``) share one.

Every part is fenced by its own lease, in partition order (the lease rounds lock the same rows in
that order). A part whose lease was lost, or that overlaps outcomes already written, fails the
shared transaction; the group is then retried part by part, so that it fails alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.context import Platform
from backend.group_commit import GroupCommit
from backend.pg import HotPool
from backend.settlement import repository as repo
from backend.settlement.repository import LeaseLost
from points_engine.settlement import Settlement

# Most actions in one shared transaction: big enough to take every partition's batch under a
# trickle, small enough that a transaction of 1,000-action batches stays ~100 ms.
_GROUP_ACTIONS = 8000
# Transactions in flight at once, on as many connections (never two holding one partition). With
# one, a worker draining a backlog waited on each commit in turn: the worker and PostgreSQL took
# 0.7 and 0.4 of the two cores between them. Parts of different partitions lock different rows
# (their fences, their citizens' balances, their shards of the issuance accounts), in one order.
_IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class Lease:
    partition: int
    epoch: int
    worker: str


@dataclass(frozen=True, slots=True)
class _Part:
    lease: Lease
    settled: Sequence[Settlement]


class SettlementWriter:
    """One per worker process: ``write`` returns once the part is committed."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._group: GroupCommit[_Part, None] = GroupCommit(
            self._flush,
            keys=lambda part: (part.lease.partition,),  # a partition's batches commit in order
            size=lambda part: len(part.settled),
            max_size=max(_GROUP_ACTIONS, platform.settings.settle_batch),
            alone_on=(LeaseLost, *repo.DUPLICATE_OUTCOME),
            concurrency=_IN_FLIGHT,
        )
        self.transactions = 0

    async def write(self, lease: Lease, settled: Sequence[Settlement]) -> None:
        """Commit the outcomes, ledger transactions, balances and webhook outbox rows of one
        partition's batch; raises LeaseLost, or one of DUPLICATE_OUTCOME (an outcome already written)."""
        await self._group.submit(_Part(lease, settled))

    async def _flush(self, parts: list[_Part]) -> list[None]:
        platform = self.platform
        hooks = await self._webhook_partners({s.accepted.action.partner_id for p in parts for s in p.settled})
        now = datetime.now(UTC)
        until = now + timedelta(seconds=platform.settings.lease_s)
        ordered = sorted(parts, key=lambda p: p.lease.partition)
        if platform.pg is not None:
            await self._flush_pg(platform.pg, ordered, now, until, hooks)
        else:
            await self._flush_db(ordered, now, until, hooks)
        self.transactions += 1
        return [None] * len(parts)

    async def _flush_db(
        self, ordered: list[_Part], now: datetime, until: datetime, hooks: frozenset[str]
    ) -> None:
        """The transaction through SQLAlchemy (SQLite, the embedded default): a fence per part."""
        async with self.platform.db.transaction() as tx:
            written = []
            for part in ordered:
                lease = part.lease
                first = await repo.fence(
                    tx.conn, lease.partition, lease.worker, lease.epoch, len(part.settled), until
                )
                written.append(repo.Part(lease.partition, first, part.settled))
            await repo.write(tx.conn, written, now, hooks)

    async def _flush_pg(
        self, pg: HotPool, ordered: list[_Part], now: datetime, until: datetime, hooks: frozenset[str]
    ) -> None:
        """The transaction on the raw pool. Its fences go in one pipeline: one round trip for all
        the parts (a trickle of single actions brings eight), run in partition order as before."""
        async with pg.transaction() as conn:
            async with conn.pipeline():
                fenced = [
                    await conn.execute(
                        repo.FENCE_PG,
                        {
                            "count": len(part.settled),
                            "until": until,
                            "partition": part.lease.partition,
                            "worker": part.lease.worker,
                            "epoch": part.lease.epoch,
                        },
                    )
                    for part in ordered
                ]
            written = []
            for part, cursor in zip(ordered, fenced, strict=True):
                row = await cursor.fetchone()
                if row is None:
                    raise LeaseLost.of(part.lease.partition, part.lease.worker, part.lease.epoch)
                written.append(repo.Part(part.lease.partition, int(row[0]) - len(part.settled), part.settled))
            await repo.write_pg(conn, written, now, hooks)

    async def _webhook_partners(self, partner_ids: set[str]) -> frozenset[str]:
        hooked = set()
        for partner_id in partner_ids:
            record = await self.platform.partners.lookup(partner_id)
            if record is not None and record.webhook_url:
                hooked.add(partner_id)
        return frozenset(hooked)
