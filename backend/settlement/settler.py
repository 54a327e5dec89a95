"""Settling one partition's stream while holding its lease.

Order matters: one citizen's actions are decided in stream order, by the one owner of the
partition. A batch is committed (outcomes, ledger, outbox, fenced by the lease epoch) before its
rules states go to Redis and before its entries are acknowledged, so a crash at any instant
leaves either nothing or a committed batch whose entries come back: those are settled again in
"suspect" mode, which skips what already has an outcome and rebuilds the states from the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from redis.exceptions import ResponseError

from backend.context import Platform
from backend.settlement import repository as repo
from backend.settlement.publisher import SWEEP
from backend.settlement.rules_store import RulesStore
from backend.settlement.writer import Lease, SettlementWriter
from points_engine.records import Accepted, from_record
from points_engine.rules import CitizenState, Policy
from points_engine.settlement import Settlement, replay, settle

log = logging.getLogger(__name__)

GROUP = b"settlers"
# Stream entries per read, at most. An entry holds one intake batch's actions of the partition (1 to
# ~1,000), so reads are sized from the entries seen (``_read_count``) to about ``settle_batch``
# actions: what a worker holds in memory is then bounded whatever the backlog of the stream.
_READ_ENTRIES = 64
# Rules states a partition settler keeps in memory (``_recent``), whatever the city. A state is
# ~3 KB in the bench's traffic (~6 KB for a citizen with three trips a day over six days), so a
# worker holding eight partitions keeps at most ~25–50 MB of them. At 4,096 a partition the
# worker's RSS climbed 117 → 237 MB over a 300,000-action bench run without reaching the cap; at
# 1,024 it levels off at ~185 MB (peak 190). A state not kept is read back from Redis.
_RECENT_STATES = 1024


@dataclass(slots=True)
class Entry:
    entry_id: bytes
    items: list[Accepted]
    suspect: bool  # may hold actions that already have an outcome


class PartitionSettler:
    def __init__(
        self,
        platform: Platform,
        lease: Lease,
        policy: Policy | None = None,
        writer: SettlementWriter | None = None,
    ) -> None:
        self.platform = platform
        self.lease = lease
        self.writer = writer or SettlementWriter(platform)  # shared by a worker's partitions
        self.policy = policy or Policy.default()
        self.stream = platform.keys.stream(lease.partition)
        self.consumer = lease.worker.encode()
        self.rules = RulesStore(platform.hot, platform.keys)
        self._dirty: set[str] = set()  # citizens whose Redis state may lag the database
        # The states this lease committed, most recently used last. Redis holds them too, but a
        # state there is trusted only under this lease's epoch, so only this settler ever reads
        # it back: the copy in memory saves the read and the decoding (~50 µs a citizen).
        self._recent: OrderedDict[str, CitizenState] = OrderedDict()
        self._read_count = 8  # entries per read: adapted to the size of the entries seen
        self.settled = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Settle until ``stop`` is set; raises LeaseLost when another worker took the partition."""
        await self._ensure_group()
        await self._recover()
        settings = self.platform.settings
        while not stop.is_set():
            entries = await self._read(settings.settle_block_ms)
            if entries and settings.settle_linger_ms > 0 and _actions(entries) < settings.settle_batch:
                # Actions that arrive one by one would each cost a transaction: wait a moment
                # for more (they are pending on this consumer meanwhile, as any read entry is).
                # Until a common tick, so that the worker's partitions write together.
                await asyncio.sleep(until_tick(settings.settle_linger_ms / 1000))
                entries += await self._read(None)
            if entries:
                await self.settle_entries(entries)

    async def _read(self, block_ms: int | None) -> list[Entry]:
        """New entries of the stream, waiting up to ``block_ms`` for one (None: not at all)."""
        try:
            reply = await self.platform.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=self._read_count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._ensure_group()  # Redis lost the stream: the sweeper republishes
            return []
        return self._entries([row for _, rows in reply or () for row in rows], suspect=False)

    def _entries(self, rows: list[Any], suspect: bool) -> list[Entry]:
        """The entries of a read's rows; the next reads are sized from their actions per entry."""
        entries = [self._entry(eid, fields, suspect) for eid, fields in rows]
        actions = _actions(entries)
        if actions:
            wanted = self.platform.settings.settle_batch * len(entries) // actions
            self._read_count = max(1, min(_READ_ENTRIES, wanted))
        return entries

    async def _ensure_group(self) -> None:
        try:
            await self.platform.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _recover(self) -> None:
        """Take over every entry delivered to an earlier owner and not acknowledged, and settle
        them first, in stream order, as suspects."""
        redis = self.platform.redis
        start: Any = b"0-0"
        while True:
            reply = await redis.xautoclaim(self.stream, GROUP, self.consumer, 0, start_id=start, count=500)
            start = reply[0]
            if start in (b"0-0", "0-0"):
                break
        while True:
            reply = await redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=self._read_count)
            rows = [row for _, stream_rows in reply or () for row in stream_rows]
            if not rows:
                return
            await self.settle_entries(self._entries(rows, suspect=True))

    def _entry(self, entry_id: bytes, fields: dict[bytes, bytes] | None, suspect: bool) -> Entry:
        if not fields:  # deleted while pending: nothing to settle, only to acknowledge
            return Entry(entry_id, [], suspect)
        try:
            items = [from_record(r) for r in orjson.loads(fields[b"a"])]
        except Exception:  # written by us, so never expected; kept out of the way, not retried forever
            log.exception("unreadable settlement entry %r on %s", entry_id, self.stream)
            items = []
        return Entry(entry_id, items, suspect or fields.get(b"o") == SWEEP)

    async def settle_entries(self, entries: Sequence[Entry]) -> None:
        """Settle the actions of ``entries`` in order, then acknowledge and delete the entries."""
        size = self.platform.settings.settle_batch
        chunk: list[Accepted] = []
        suspect = False
        for entry in entries:
            if chunk and (len(chunk) + len(entry.items) > size or entry.suspect != suspect):
                await self.settle_batch(chunk, suspect)
                chunk = []
            chunk.extend(entry.items)
            suspect = entry.suspect
        if chunk:
            await self.settle_batch(chunk, suspect)
        ids = [e.entry_id for e in entries]
        await self.platform.hot.pipeline([("XACK", self.stream, GROUP, *ids), ("XDEL", self.stream, *ids)])

    async def settle_batch(self, items: list[Accepted], suspect: bool) -> list[Settlement]:
        """Settle one batch in one transaction; the settlements written."""
        items = _first_occurrences(items)
        if suspect:
            async with self.platform.db.read() as conn:
                done = await repo.settled_keys(conn, [i.key for i in items])
            items = [i for i in items if i.key not in done]
        if not items:
            return []
        citizens = list(dict.fromkeys(i.citizen_id for i in items))
        states = await self._states(citizens, rebuild_all=suspect)
        catalog = await self.platform.methodologies.catalog()
        settled, new_states = settle(items, states, catalog, self.policy)
        try:
            await self.writer.write(self.lease, settled)
        except repo.DUPLICATE_OUTCOME:
            if suspect:
                raise
            # Someone settled part of this batch already (a sweep and an entry raced): start over.
            log.warning("partition %s: batch overlaps settled actions; resettling", self.lease.partition)
            return await self.settle_batch(items, suspect=True)
        self._remember(new_states)
        try:
            await self.rules.store(new_states, self.lease.epoch)
            self._dirty.difference_update(new_states)
        except Exception:
            self._dirty.update(new_states)  # the database has them: rebuild these when next seen
            log.exception("partition %s: rules states not stored", self.lease.partition)
        self.settled += len(settled)
        return settled

    def _remember(self, states: dict[str, CitizenState]) -> None:
        recent = self._recent
        for citizen, state in states.items():
            recent[citizen] = state
            recent.move_to_end(citizen)
        while len(recent) > _RECENT_STATES:
            recent.popitem(last=False)

    async def _states(self, citizens: list[str], rebuild_all: bool) -> dict[str, CitizenState]:
        trusted: dict[str, CitizenState] = {}
        if not rebuild_all:
            recent = self._recent
            for citizen in citizens:
                if (state := recent.get(citizen)) is not None:
                    trusted[citizen] = state
                    recent.move_to_end(citizen)
            unknown = [c for c in citizens if c not in trusted]
            stored = await self.rules.load(unknown, self.lease.epoch) if unknown else {}
            for citizen in self._dirty.intersection(stored):
                del stored[citizen]
            trusted.update(stored)
        missing = [c for c in citizens if c not in trusted]
        if missing:
            keep = timedelta(seconds=self.policy.retention_s) + timedelta(days=1)
            async with self.platform.db.read() as conn:
                histories = await repo.history(conn, missing, keep)
            for citizen in missing:
                trusted[citizen] = replay(histories.get(citizen, ()), self.policy)
        return trusted


def until_tick(period_s: float) -> float:
    """Seconds to the next multiple of ``period_s`` on this process's monotonic clock."""
    return period_s - time.monotonic() % period_s


def _actions(entries: Sequence[Entry]) -> int:
    return sum(len(e.items) for e in entries)


def _first_occurrences(items: list[Accepted]) -> list[Accepted]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            unique.append(item)
    return unique
