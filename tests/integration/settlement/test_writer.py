"""A worker's partitions whose batches are ready together commit in one transaction, and a part
that cannot be written (its lease lost, its outcomes already there) fails alone."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

from backend.settlement import repository as repo
from backend.settlement.partitions import partition_of
from backend.settlement.repository import LeaseLost
from backend.settlement.writer import Lease, SettlementWriter
from points_engine.methodologies import default_catalog
from points_engine.rules import Policy
from points_engine.settlement import Settlement, settle
from tests.integration.settlement.conftest import count_outcomes
from tests.integration.settlement.harness import ledger_totals, traffic


async def leases(platform, worker: str, partitions: list[int]) -> dict[int, Lease]:
    async with platform.db.transaction() as tx:
        await repo.ensure_partitions(tx.conn, platform.settings.settle_partitions)
    held = {}
    for partition in partitions:
        async with platform.db.transaction() as tx:
            epoch = await repo.acquire(tx.conn, partition, worker, datetime.now(UTC), 60)
        assert epoch is not None
        held[partition] = Lease(partition, epoch, worker)
    return held


def settled_by_partition(platform, count: int) -> dict[int, list[Settlement]]:
    by_partition = defaultdict(list)
    for item in traffic(count, citizens=count // 4, seed=31):
        by_partition[partition_of(item.citizen_id, platform.settings.settle_partitions)].append(item)
    return {
        partition: settle(items, {}, default_catalog(), Policy.default())[0]
        for partition, items in by_partition.items()
    }


async def test_batches_ready_together_share_a_transaction(platform):
    settled = settled_by_partition(platform, 400)
    held = await leases(platform, "w", sorted(settled))
    writer = SettlementWriter(platform)
    await asyncio.gather(*(writer.write(held[p], s) for p, s in settled.items()))
    # Submitted in one turn of the event loop: the flush that starts after it takes them all.
    assert writer.transactions == 1
    assert await count_outcomes(platform) == 400
    totals = await ledger_totals(platform)
    assert totals["sum_of_balances"] == 0
    assert totals["pending"] == sum(s.outcome.points for parts in settled.values() for s in parts)
    async with platform.db.read() as conn:
        for partition, parts in settled.items():
            seqs = await conn.exec_driver_sql(
                f"SELECT seq FROM outcomes WHERE partition = {partition} ORDER BY seq"
            )
            assert [r[0] for r in seqs] == list(range(len(parts)))  # each fence numbered its own


async def test_a_part_whose_lease_is_lost_fails_alone(platform):
    settled = settled_by_partition(platform, 400)
    partitions = sorted(settled)
    held = await leases(platform, "w", partitions)
    lost = partitions[1]
    held[lost] = Lease(lost, held[lost].epoch - 1, "w")  # an epoch another owner has replaced
    writer = SettlementWriter(platform)
    results = await asyncio.gather(
        *(writer.write(held[p], settled[p]) for p in partitions), return_exceptions=True
    )
    failed = [p for p, r in zip(partitions, results, strict=True) if r is not None]
    assert failed == [lost]
    assert isinstance(results[1], LeaseLost)
    expected = sum(len(settled[p]) for p in partitions if p != lost)
    assert await count_outcomes(platform) == expected


async def test_a_part_already_written_fails_alone(platform):
    settled = settled_by_partition(platform, 400)
    partitions = sorted(settled)
    held = await leases(platform, "w", partitions)
    writer = SettlementWriter(platform)
    again = partitions[2]
    await writer.write(held[again], settled[again])
    results = await asyncio.gather(
        *(writer.write(held[p], settled[p]) for p in partitions), return_exceptions=True
    )
    assert [p for p, r in zip(partitions, results, strict=True) if r is not None] == [again]
    assert isinstance(results[partitions.index(again)], repo.DUPLICATE_OUTCOME)
    assert await count_outcomes(platform) == 400
    assert (await ledger_totals(platform))["sum_of_balances"] == 0
