"""Putting accepted actions on the settlement streams: one XADD per partition per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import orjson
import redis.asyncio as aioredis

from backend.redis import Keys
from backend.settlement.partitions import partition_of
from points_engine.records import Accepted, Record, to_record

INTAKE = b"intake"
SWEEP = b"sweep"  # republished by the sweeper: may already be settled


async def publish(
    redis: aioredis.Redis, keys: Keys, partitions: int, items: Iterable[Accepted], origin: bytes = INTAKE
) -> int:
    """Append ``items`` to their partitions' streams, in order; the number of entries written."""
    groups: dict[int, list[Record]] = defaultdict(list)
    for item in items:
        groups[partition_of(item.citizen_id, partitions)].append(to_record(item))
    if not groups:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for partition, records in groups.items():
            pipe.xadd(keys.stream(partition), {b"o": origin, b"a": orjson.dumps(records)})
        await pipe.execute()
    return len(groups)
