"""What the sweeper republishes (``repository.unsettled``): accepted actions received in a window
that have no outcome, oldest first, at most as many as asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.settlement import repository as repo
from backend.settlement.partitions import partition_of
from backend.settlement.settler import PartitionSettler
from tests.integration.settlement.harness import accept, traffic
from tests.integration.settlement.test_writer import leases

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def half_settled(platform):
    """Partition 0's share of some traffic accepted in chunks (each its own receipt time); the
    first half settled. The half left unsettled."""
    items = [
        i
        for i in traffic(1200, citizens=80, seed=61)
        if partition_of(i.citizen_id, platform.settings.settle_partitions) == 0
    ]
    await accept(platform, items, chunk=25)
    held = await leases(platform, "w", [0])
    half = len(items) // 2
    await PartitionSettler(platform, held[0]).settle_batch(items[:half], suspect=False)
    return items[half:]


async def test_the_unsettled_actions_of_a_window_oldest_first(platform):
    left = await half_settled(platform)
    later = datetime.now(UTC) + timedelta(minutes=1)
    async with platform.db.read() as conn:
        rows = await repo.unsettled(conn, EPOCH, later, 10_000)
        first = await repo.unsettled(conn, EPOCH, later, 5)
        before_them = await repo.unsettled(conn, EPOCH, rows[0].received_at, 10_000)
        from_them = await repo.unsettled(conn, rows[0].received_at, later, 10_000)
    assert {(r.partner_id, r.event_id) for r in rows} == {i.key for i in left}
    assert [r.received_at for r in rows] == sorted(r.received_at for r in rows)
    assert len({r.received_at for r in rows}) > 1  # several receipt times: the order is tested
    assert [r.received_at for r in first] == [r.received_at for r in rows[:5]]
    assert before_them == []  # all settled there
    assert len(from_them) == len(rows)
