"""Which partition settles a citizen: a stable hash, so one citizen is always on one stream."""

from __future__ import annotations

import zlib


def partition_of(citizen_id: str, partitions: int) -> int:
    return zlib.crc32(citizen_id.encode()) % partitions
