"""The settled history a rules state is rebuilt from (``repository.history``): per citizen, in
settlement order, enough of it that the rebuilt state is the one the whole history gives; on
PostgreSQL, read by index probes even before the tables have statistics."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import text

from backend.settlement import repository as repo
from backend.settlement.partitions import partition_of
from backend.settlement.settler import PartitionSettler
from points_engine.rules import Policy
from points_engine.settlement import replay
from tests.conftest import BACKEND
from tests.integration.settlement.harness import accept, stored, traffic
from tests.integration.settlement.test_writer import leases

# One day of retention against traffic over three: the oldest outcomes of a busy citizen fall
# outside what ``history`` needs to return.
POLICY = dataclasses.replace(Policy.default(), retention_s=86_400)
KEEP = timedelta(seconds=POLICY.retention_s) + timedelta(days=1)


async def settle_partition(platform, count: int, citizens: int):
    """Partition 0's share of ``count`` actions accepted, then settled through its settler."""
    partition = 0
    items = [
        i
        for i in traffic(count, citizens=citizens, seed=53)
        if partition_of(i.citizen_id, platform.settings.settle_partitions) == partition
    ]
    await accept(platform, items)
    held = await leases(platform, "w", [partition])
    settler = PartitionSettler(platform, held[partition], policy=POLICY)
    for start in range(0, len(items), 500):
        await settler.settle_batch(items[start : start + 500], suspect=False)
    return items


async def test_history_rebuilds_the_state_the_whole_history_gives(platform):
    items = await settle_partition(platform, 4000, citizens=60)
    by_key = {i.key: i for i in items}
    whole: dict[str, list] = defaultdict(list)
    for key, (citizen, _seq, outcome) in sorted((await stored(platform)).items(), key=lambda kv: kv[1][1]):
        if outcome.status != "rejected":
            whole[citizen].append((by_key[key], outcome))
    citizens = sorted(whole)
    assert any(
        max(a.action.occurred_at for a, _ in rows) - min(a.action.occurred_at for a, _ in rows) > KEEP
        for rows in whole.values()
    ), "no citizen's history is longer than what is kept: the test would not prune anything"

    async with platform.db.read() as conn:
        found = await repo.history(conn, [*citizens, "c_never_seen", citizens[0]], KEEP)

    assert set(found) == set(citizens)  # a citizen without outcomes has no history
    for citizen in citizens:
        rows = found[citizen]
        latest = max(a.action.occurred_at for a, _ in whole[citizen])
        needed = [(a, o) for a, o in whole[citizen] if a.action.occurred_at >= latest - KEEP]
        assert [r for r in rows if r in needed] == needed  # all it needs, in settlement order
        assert all(r in whole[citizen] for r in rows)  # nothing rejected, nobody else's
        assert replay(rows, POLICY) == replay(whole[citizen], POLICY)


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's planner")
async def test_history_is_read_by_index_probes_before_any_statistics(platform):
    await settle_partition(platform, 8000, citizens=400)
    async with platform.db.read() as conn:
        analyzed = await conn.execute(
            text("SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('actions', 'outcomes') "
                 "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)")
        )  # fmt: skip
        assert analyzed.scalar_one() == 0, "the tables have statistics: the test needs them fresh"
        ids = [r[0] for r in await conn.execute(text("SELECT DISTINCT citizen_id FROM outcomes"))]
        plan = await conn.execute(
            text("EXPLAIN " + repo.HISTORY_SQL), {"ids": ids, "keep": KEEP}
        )  # fmt: skip
        lines = "\n".join(r[0] for r in plan)
    assert "Seq Scan" not in lines, lines
    assert "actions_pkey" in lines and "ix_outcomes_citizen_occurred" in lines, lines
