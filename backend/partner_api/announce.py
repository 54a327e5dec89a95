"""Putting committed actions on the settlement streams, after intake's commit.

On the PostgreSQL hot path, requests that announce at the same moment share one pipeline (one
round trip to Redis for many single actions); a publish that fails is logged, and the sweeper
republishes what never reached a stream.
"""

from __future__ import annotations

import logging
import weakref

from backend.context import Platform
from backend.group_commit import GroupCommit
from backend.redis_hot import HotRedis
from backend.settlement.publisher import publish
from points_engine.records import Accepted

log = logging.getLogger(__name__)

_Announcement = tuple[Platform, list[Accepted]]

_groups: weakref.WeakKeyDictionary[HotRedis, GroupCommit[_Announcement, None]] = weakref.WeakKeyDictionary()


async def announce(platform: Platform, fresh: list[Accepted]) -> None:
    """Publish ``fresh`` (in order) to the streams of their partitions."""
    await publish(platform.hot, platform.keys, platform.settings.settle_partitions, fresh)


async def announce_together(platform: Platform, fresh: list[Accepted]) -> None:
    """``announce``, in one pipeline with the other requests announcing meanwhile; never raises
    (the actions are committed: a lost publish is the sweeper's to repair)."""
    group = _groups.get(platform.hot)
    if group is None:  # (what it holds must not refer to its key, or the key lives forever)
        group = _groups[platform.hot] = GroupCommit(_flush, keys=lambda _: (), size=_size, max_size=1000)
    try:
        await group.submit((platform, fresh))
    except Exception:
        log.exception("publishing %d accepted actions failed", len(fresh))


async def _flush(announcements: list[_Announcement]) -> list[None]:
    platform = announcements[0][0]
    await announce(platform, [item for _, fresh in announcements for item in fresh])
    return [None] * len(announcements)


def _size(announcement: _Announcement) -> int:
    return len(announcement[1])
