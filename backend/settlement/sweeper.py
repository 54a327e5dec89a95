"""Republishing accepted actions that never reached a worker.

Intake publishes after its commit; a crash between the two, or a Redis that lost its streams,
leaves accepted actions without an outcome. The sweeper finds those received more than a grace
period ago (and only while the streams have no backlog older than that: a backlog is work being
done, not work lost) and puts them back on their streams, marked so that workers skip any that
settled meanwhile. A watermark (``settlement_cursors.sweep``) keeps each pass to recent actions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from backend.context import Platform
from backend.settlement import repository as repo
from backend.settlement.publisher import SWEEP, publish
from points_engine.records import accepted_from_row

log = logging.getLogger(__name__)

CURSOR = "sweep"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def sweep(platform: Platform, now: datetime | None = None, limit: int = 5000) -> int:
    """One pass: the number of actions republished."""
    settings = platform.settings
    now = now or datetime.now(UTC)
    grace = timedelta(seconds=settings.sweep_grace_s)
    oldest = await _oldest_entry(platform)
    if oldest is not None and now - oldest > grace:
        return 0  # workers are behind: what is unsettled is still on its way
    before = now - grace
    async with platform.db.read() as conn:
        since = await repo.cursor(conn, CURSOR) or _EPOCH
        rows = await repo.unsettled(conn, since, before, limit)
    if rows:
        items = [
            accepted_from_row(
                r.partner_id, r.event_id, r.citizen_id, r.user, r.type, r.occurred_at, r.region, r.data
            )
            for r in rows
        ]
        await publish(platform.hot, platform.keys, settings.settle_partitions, items, origin=SWEEP)
        log.warning("sweeper republished %d accepted actions without an outcome", len(items))
    # Everything before the oldest one republished (or before the cutoff) is settled.
    watermark = rows[0].received_at if rows else before
    if watermark > since:
        async with platform.db.transaction() as tx:
            await repo.set_cursor(tx.conn, CURSOR, watermark)
    return len(rows)


async def _oldest_entry(platform: Platform) -> datetime | None:
    """When the oldest entry still on any stream was added (stream ids are milliseconds)."""
    keys = platform.keys
    async with platform.redis.pipeline(transaction=False) as pipe:
        for partition in range(platform.settings.settle_partitions):
            pipe.xrange(keys.stream(partition), count=1)
        replies = await pipe.execute()
    stamps = [int(rows[0][0].split(b"-")[0]) for rows in replies if rows]
    return datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None
