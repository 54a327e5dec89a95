"""A partition settler keeps the rules states it committed, within a bound, and reads Redis only
for citizens it does not hold: decisions are the same either way."""

from __future__ import annotations

from backend.settlement import settler as settler_module
from backend.settlement.partitions import partition_of
from backend.settlement.settler import PartitionSettler
from tests.integration.settlement.harness import reference, stored, traffic
from tests.integration.settlement.test_writer import leases


class CountingLoads(PartitionSettler):
    """Counts the citizens whose states it asked Redis for."""

    loaded = 0

    async def _states(self, citizens, rebuild_all):  # type: ignore[no-untyped-def]
        load = self.rules.load

        async def counted(ids, epoch):  # type: ignore[no-untyped-def]
            self.loaded += len(ids)
            return await load(ids, epoch)

        self.rules.load = counted  # type: ignore[method-assign]
        try:
            return await super()._states(citizens, rebuild_all)
        finally:
            self.rules.load = load  # type: ignore[method-assign]


async def test_states_committed_by_the_lease_are_reused_within_a_bound(platform, monkeypatch):
    monkeypatch.setattr(settler_module, "_RECENT_STATES", 20)
    partition = 0
    items = [
        i
        for i in traffic(4000, citizens=400, seed=41)
        if partition_of(i.citizen_id, platform.settings.settle_partitions) == partition
    ]
    held = await leases(platform, "w", [partition])
    settler = CountingLoads(platform, held[partition])
    first, second = items[: len(items) // 2], items[len(items) // 2 :]
    await settler.settle_batch(first, suspect=False)
    assert len({i.citizen_id for i in first}) > 20
    assert len(settler._recent) == 20  # the most recently settled citizens only
    remembered = set(settler._recent)
    settler.loaded = 0
    await settler.settle_batch(second, suspect=False)
    citizens = {i.citizen_id for i in second}
    assert settler.loaded == len(citizens - remembered)  # Redis only for the ones not in memory
    expected = reference(items)
    assert {k: v[2] for k, v in (await stored(platform)).items()} == expected
