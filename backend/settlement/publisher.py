"""Putting accepted actions on the settlement streams: one XADD per partition per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import orjson

from backend.redis import Keys
from backend.redis_hot import HotRedis
from backend.settlement.partitions import partition_of
from points_engine.records import Accepted, Record, to_record

INTAKE = b"intake"
SWEEP = b"sweep"  # republished by the sweeper: may already be settled


async def publish(
    redis: HotRedis, keys: Keys, partitions: int, items: Iterable[Accepted], origin: bytes = INTAKE
) -> int:
    """Append ``items`` to their partitions' streams, in order; the number of entries written."""
    groups: dict[int, list[Record]] = defaultdict(list)
    for item in items:
        groups[partition_of(item.citizen_id, partitions)].append(to_record(item))
    if not groups:
        return 0
    await redis.pipeline(
        [
            ("XADD", keys.stream(partition), "*", b"o", origin, b"a", orjson.dumps(records))
            for partition, records in groups.items()
        ]
    )
    return len(groups)
