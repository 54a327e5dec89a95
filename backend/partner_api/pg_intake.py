"""Intake's SQL on the raw PostgreSQL pool: one autocommitted statement per batch, and one for
many small batches at once.

Through SQLAlchemy a single-action request took five round trips (pre-ping, BEGIN, bindings,
INSERT, COMMIT) and ~1 ms of Python; here it is one prepared statement. A single statement is its
own transaction, so the actions it inserted are committed when its answer arrives: before the 202.
Small batches (single actions) that arrive together share a statement (``group_commit``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Json

from backend.group_commit import GroupCommit
from backend.pg import HotPool

# The valid actions of one or more batches in one JSON parameter: a statement of constant text
# whatever the batch size, whose one document the driver sends as is (psycopg's text[] arrays cost
# ~50 ms a 1,000-action batch to render, measured) and PostgreSQL parses in C. Each action comes
# back with its user's binding; the first action of each (partner, event id) whose user is bound
# and consenting is inserted, and an event id that was there already comes back with its content
# hash. The lookups are LATERAL … LIMIT 1 (one row by primary key either way) so that they stay
# index probes per action: json_to_recordset is estimated at 100 rows, and a plain join was
# planned as a hash join over every action of the partner (measured: 4.5 ms at 20,000 actions).
# The hash is read from the statement's snapshot: a conflicting row committed after it was taken
# is not seen, and comes back NULL (the caller reads it again). An action just inserted is not
# probed (its condition is a one-time filter on the probe).
# FOR KEY SHARE on the binding: an account deletion replaces the user id by its pseudonym (a key
# update) and then pseudonymises the citizen's actions. Locked, a report racing it either commits
# first (and its action is pseudonymised with the rest) or waits, then finds no such user: an
# action never keeps the real user id of a deleted citizen.
_STATEMENT = """
WITH x AS (
    SELECT * FROM json_to_recordset(%(rows)s::json)
        AS x(p text, i int, e text, u text, t text, o timestamptz, r text, b text, d jsonb, h text)
), bound AS (
    SELECT x.*, bd.c, bd.w FROM x LEFT JOIN LATERAL (
        SELECT citizen_id AS c, consent_withdrawn_at IS NOT NULL AS w
        FROM bindings WHERE partner_id = x.p AND "user" = x.u
        LIMIT 1 FOR KEY SHARE
    ) bd ON true
), ins AS (
    INSERT INTO actions (partner_id, event_id, citizen_id, "user", type, occurred_at, region, book,
                         data, content_hash, received_at)
    SELECT DISTINCT ON (p, e) p, e, c, u, t, o, r, b, d, h, %(now)s
    FROM bound WHERE c IS NOT NULL AND NOT w
    ORDER BY p, e, i
    {on_conflict}
    RETURNING partner_id, event_id
)
SELECT bound.i, bound.u, bound.c, bound.w, bound.e, ins.event_id IS NOT NULL AS fresh, a.content_hash
FROM bound
LEFT JOIN ins ON ins.partner_id = bound.p AND ins.event_id = bound.e
LEFT JOIN LATERAL (
    SELECT content_hash FROM actions
    WHERE ins.event_id IS NULL AND partner_id = bound.p AND event_id = bound.e LIMIT 1
) a ON true
"""
# Almost every action reported is new: the plain insert is tried first. ON CONFLICT DO NOTHING
# inserts speculatively (a probe of the key, the tuple, then a confirmation), which nearly doubled
# the insert here (100,000 rows with the three indexes of actions: 0.93 s plain, 1.80 s with it).
# An event id that is there already fails the whole statement, which then runs again with it.
_NEW = _STATEMENT.format(on_conflict="")
_RECORD = _STATEMENT.format(on_conflict="ON CONFLICT DO NOTHING")

_CONTENT_HASHES = """
SELECT event_id, content_hash FROM actions WHERE partner_id = %(partner_id)s AND event_id = ANY(%(ids)s)
"""


# Batches of at most this many actions go through group commit; larger ones have a statement of
# their own (a 1,000-action statement takes ~30 ms: single actions must not queue behind it).
GROUPED_MAX_ACTIONS = 16
GROUP_MAX_ACTIONS = 512


@dataclass
class Recorded:
    """What the statement found and did for one batch."""

    citizens: dict[str, tuple[str, bool]] = field(default_factory=dict)  # user -> (citizen, withdrawn?)
    inserted: set[str] = field(default_factory=set)  # event ids
    existing: dict[str, str] = field(default_factory=dict)  # event id -> content hash, inserted before


@dataclass(frozen=True, slots=True)
class _Batch:
    pg: HotPool
    partner_id: str
    rows: list[dict[str, Any]]


_groups: weakref.WeakKeyDictionary[HotPool, GroupCommit[_Batch, Recorded]] = weakref.WeakKeyDictionary()


async def record(pg: HotPool, partner_id: str, rows: list[dict[str, Any]]) -> Recorded:
    """Insert the new actions of one batch's ``rows`` (keys as in ``_RECORD`` but ``p`` and ``i``,
    in batch order); committed when this returns."""
    batch = _Batch(pg, partner_id, rows)
    if len(rows) > GROUPED_MAX_ACTIONS:
        return (await _record([batch]))[0]
    group = _groups.get(pg)
    if group is None:  # (what it holds must not refer to its key, or the key lives forever)
        group = _groups[pg] = GroupCommit(
            _record,
            keys=lambda b: ((b.partner_id, row["e"]) for row in b.rows),  # one insert per key and statement
            size=lambda b: len(b.rows),
            max_size=GROUP_MAX_ACTIONS,
            alone_on=(psycopg.DataError, psycopg.IntegrityError),  # what one batch's rows can cause
        )
    return await group.submit(batch)


async def _record(batches: list[_Batch]) -> list[Recorded]:
    owner: list[Recorded] = []
    rows: list[dict[str, Any]] = []
    found = [Recorded() for _ in batches]
    for batch, into in zip(batches, found, strict=True):
        for row in batch.rows:
            row["p"], row["i"] = batch.partner_id, len(rows)
            rows.append(row)
            owner.append(into)
    # orjson's bytes go out as they are (as a str they were decoded, then encoded again).
    params = {"rows": Json(rows, dumps=orjson.dumps), "now": datetime.now(UTC)}

    async def run(conn: AsyncConnection[Any]) -> list[Recorded]:
        try:
            cur = await conn.execute(_NEW, params)
        except psycopg.errors.UniqueViolation:  # (autocommitted: nothing of it stays)
            cur = await conn.execute(_RECORD, params)
        for i, user, citizen, withdrawn, event_id, fresh, digest in await cur.fetchall():
            into = owner[i]
            if citizen is not None:
                into.citizens[user] = (citizen, withdrawn)
            if fresh:
                into.inserted.add(event_id)
            elif digest is not None:
                into.existing[event_id] = digest
        return found

    return await batches[0].pg.run(run, autocommit=True)


async def content_hashes(pg: HotPool, partner_id: str, event_ids: Iterable[str]) -> dict[str, str]:
    params = {"partner_id": partner_id, "ids": list(event_ids)}

    async def run(conn: AsyncConnection[Any]) -> dict[str, str]:
        cur = await conn.execute(_CONTENT_HASHES, params)
        return {event_id: digest for event_id, digest in await cur.fetchall()}

    return await pg.run(run, autocommit=True)
