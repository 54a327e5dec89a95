"""Which actions a certification run covers, as SQL: the one definition that issuing, proofs and
``tanhui audit verify`` all read, so they cannot disagree.

A run covers (docs/certification.md):
- the outcomes of its book and period that are eligible (credited or capped with grams, not
  flagged) and whose ``seq`` lies in ``(from_seq, to_seq]`` of the run's watermark for their
  settlement partition, and
- the flagged outcomes whose approval names the run (``reviews.run_id``).

The citizen API asks the same question for one citizen across all runs (backend.citizens.certified);
tests/integration/certification/test_membership_views.py holds the two equal.

Leaves are ordered by (partner_id, event_id) in code-point order: the columns are ``COLLATE "C"``
on PostgreSQL (migration 0004) and SQLite compares bytes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from sqlalchemy import BigInteger, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from backend.models.types import UtcDateTime
from points_engine.certification import CHUNK, leaf_hash, leaf_record

ELIGIBLE_STATUSES = ("credited", "capped")

_WINDOW = """
    SELECT o.partner_id, o.event_id, o.citizen_id, o.type, o.occurred_at, o.reduction_g, o.points,
           o.methodology, o.book
      FROM outcomes o
      JOIN run_watermarks w
        ON w.run_id = :run_id AND o.partition = w.partition AND o.seq > w.from_seq AND o.seq <= w.to_seq
     WHERE o.book = :book AND o.occurred_at >= :start AND o.occurred_at < :end
       AND NOT o.flagged AND o.status IN ('credited', 'capped') AND o.reduction_g > 0
    UNION ALL
    SELECT o.partner_id, o.event_id, o.citizen_id, o.type, o.occurred_at, o.reduction_g, o.points,
           o.methodology, o.book
      FROM reviews r
      JOIN outcomes o ON o.partner_id = r.partner_id AND o.event_id = r.event_id
     WHERE r.run_id = :run_id
"""


# The canonical leaf (docs/proofs.md) rendered by PostgreSQL: a JSON string is the text with `\`
# and `"` escaped (leaf_record refuses control characters, the only other escapes), to_char
# truncates to the second. One concat() over replace()s costs about a third less than to_json()
# and `||` per field, which counts over ten million leaves. tests/integration/certification holds
# it byte-equal to points_engine.certification.leaf_record.
def _pg_json_string(column: str) -> str:
    return f"""replace(replace({column}, '\\', '\\\\'), '"', '\\"')"""


_PG_LEAF = (
    """concat('{"book":"', """
    + _pg_json_string("m.book")
    + """, '","citizen_id":"', """
    + _pg_json_string("m.citizen_id")
    + """, '","event_id":"', """
    + _pg_json_string("m.event_id")
    + """, '","methodology":"', """
    + _pg_json_string("m.methodology")
    + """, '","occurred_at":"', to_char(m.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),"""
    + """ '","partner_id":"', """
    + _pg_json_string("m.partner_id")
    + """, '","reduction_g":', m.reduction_g, '}')"""
)


@dataclass(frozen=True, slots=True)
class RunScope:
    """What identifies a run's members besides its watermark rows."""

    run_id: str
    book: str
    start: Any  # datetime, UTC
    end: Any

    def params(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "book": self.book, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class Totals:
    actions: int
    reduction_g: int
    points: int


async def totals(conn: AsyncConnection, scope: RunScope) -> Totals:
    row = (
        await conn.execute(
            _sql(
                f"SELECT count(*), coalesce(sum(reduction_g), 0), coalesce(sum(points), 0) FROM ({_WINDOW}) m"
            ),
            scope.params(),
        )
    ).one()
    return Totals(int(row[0]), int(row[1]), int(row[2]))


@dataclass(frozen=True, slots=True)
class Leaf:
    partner_id: str
    event_id: str
    hash: bytes


async def leaves(
    conn: AsyncConnection, scope: RunScope, *, after: tuple[str, str] | None = None, limit: int | None = None
) -> AsyncIterator[Leaf]:
    """The run's leaves in tree order (from the first key >= ``after``, at most ``limit``)."""
    where = "WHERE (m.partner_id, m.event_id) >= (:after_p, :after_e)" if after else ""
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    params = scope.params()
    if after:
        params.update(after_p=after[0], after_e=after[1])
    if conn.dialect.name == "postgresql":
        query = (
            f"SELECT m.partner_id, m.event_id, sha256('\\x00'::bytea || convert_to({_PG_LEAF}, 'UTF8')) "
            f"FROM ({_WINDOW}) m {where} ORDER BY m.partner_id, m.event_id {tail}"
        )
        result = await conn.stream(_sql(query).execution_options(yield_per=20_000), params)
        async for partner_id, event_id, digest in result:
            yield Leaf(partner_id, event_id, bytes(digest))
        return
    query = f"SELECT m.* FROM ({_WINDOW}) m {where} ORDER BY m.partner_id, m.event_id {tail}"
    result = await conn.stream(_sql(query, rows=True).execution_options(yield_per=5_000), params)
    async for row in result:
        yield Leaf(row.partner_id, row.event_id, leaf_hash(leaf_bytes(row)))


@dataclass(frozen=True, slots=True)
class LeafChunk:
    """An aligned block of a run's leaves: the key of its first leaf and its leaf hashes, in order."""

    first_partner_id: str
    first_event_id: str
    hashes: list[bytes]


async def leaf_chunks(conn: AsyncConnection, scope: RunScope) -> AsyncIterator[LeafChunk]:
    """The run's leaves in tree order, in blocks of ``CHUNK`` (the last may be shorter): what
    ``leaves`` yields, without an object per leaf, for runs of millions of actions."""
    if conn.dialect.name == "postgresql":
        async for chunk in _pg_leaf_chunks(conn, scope):
            yield chunk
        return
    block: list[bytes] = []
    first = ("", "")
    async for leaf in leaves(conn, scope):
        if not block:
            first = (leaf.partner_id, leaf.event_id)
        block.append(leaf.hash)
        if len(block) == CHUNK:
            yield LeafChunk(*first, block)
            block = []
    if block:
        yield LeafChunk(*first, block)


# One row per leaf, hashed by PostgreSQL below the sort (in its parallel workers: the leader only
# merges, numbers and sends); the key only on the first leaf of each chunk, the rest never leave
# the server.
_PG_CHUNKED = f"""
    SELECT x.h, CASE WHEN x.n %% {CHUNK} = 0 THEN x.partner_id END,
           CASE WHEN x.n %% {CHUNK} = 0 THEN x.event_id END
      FROM (SELECT s.*, row_number() OVER (ORDER BY s.partner_id, s.event_id) - 1 AS n
              FROM (SELECT m.partner_id, m.event_id,
                           sha256('\\x00'::bytea || convert_to({_PG_LEAF}, 'UTF8')) AS h
                      FROM ({_WINDOW}) m ORDER BY m.partner_id, m.event_id) s) x
     ORDER BY x.partner_id, x.event_id
"""


async def _pg_leaf_chunks(conn: AsyncConnection, scope: RunScope) -> AsyncIterator[LeafChunk]:
    block: list[bytes] = []
    first = ("", "")
    async for h, partner_id, event_id in _pg_stream(conn, _PG_CHUNKED, scope.params()):
        if partner_id is not None:
            if block:
                yield LeafChunk(*first, block)
            first, block = (partner_id, event_id), []
        block.append(h)
    if block:
        yield LeafChunk(*first, block)


async def _pg_stream(conn: AsyncConnection, query: str, params: dict[str, Any]) -> AsyncIterator[Any]:
    """Rows of ``query`` (``:name`` parameters, ``%%`` for ``%``) in the connection's transaction,
    fetched in batches as they come (libpq chunked rows, binary), not through a server-side cursor:
    PostgreSQL never plans a cursor's query in parallel, and these scan a month of outcomes."""
    raw = cast(psycopg.AsyncConnection[Any], (await conn.get_raw_connection()).driver_connection)
    async with raw.cursor(binary=True) as cur:
        async for row in cur.stream(re.sub(r"(?<![:\w\\]):(\w+)(?!:)", r"%(\1)s", query), params, size=CHUNK):
            yield row


async def leaf_of(conn: AsyncConnection, scope: RunScope, partner_id: str, event_id: str) -> bytes | None:
    """The canonical leaf record of one action of the run, or None if the run does not cover it."""
    query = f"SELECT m.* FROM ({_WINDOW}) m WHERE m.partner_id = :p AND m.event_id = :e"
    row = (
        await conn.execute(_sql(query, rows=True), {**scope.params(), "p": partner_id, "e": event_id})
    ).first()
    return None if row is None else leaf_bytes(row)


def leaf_bytes(row: Any) -> bytes:
    return leaf_record(
        book=row.book,
        citizen_id=row.citizen_id,
        event_id=row.event_id,
        methodology=row.methodology,
        occurred_at=row.occurred_at,
        partner_id=row.partner_id,
        reduction_g=int(row.reduction_g),
    )


async def points_by_citizen(conn: AsyncConnection, scope: RunScope) -> AsyncIterator[tuple[str, int]]:
    """(citizen, points) of the run's members, for citizens with points, in citizen order."""
    query = (
        f"SELECT m.citizen_id, sum(m.points) FROM ({_WINDOW}) m "
        "GROUP BY m.citizen_id HAVING sum(m.points) > 0 ORDER BY m.citizen_id"
    )
    if conn.dialect.name == "postgresql":
        async for citizen, points in _pg_stream(conn, query, scope.params()):
            yield citizen, int(points)
        return
    result = await conn.stream(_sql(query).execution_options(yield_per=10_000), scope.params())
    async for citizen, points in result:
        yield citizen, int(points)


async def member_sums(conn: AsyncConnection, scope: RunScope, column: str) -> dict[str, tuple[int, int, int]]:
    """Per value of ``column`` (partner_id, type, methodology, citizen_id): actions, grams, points."""
    if column not in {"partner_id", "type", "methodology", "citizen_id"}:
        raise ValueError(column)
    query = (
        f"SELECT m.{column}, count(*), sum(m.reduction_g), sum(m.points) "
        f"FROM ({_WINDOW}) m GROUP BY m.{column}"
    )
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in await conn.execute(_sql(query), scope.params())}


def _sql(query: str, *, rows: bool = False) -> TextClause:
    """``query`` with the period's bounds bound as UTC times (SQLite compares them as text) and,
    for member rows, ``occurred_at`` read back as an aware datetime."""
    clause = text(query).bindparams(
        bindparam("start", type_=UtcDateTime()), bindparam("end", type_=UtcDateTime())
    )
    if rows:
        return clause.columns(
            partner_id=String,
            event_id=String,
            citizen_id=String,
            type=String,
            occurred_at=UtcDateTime,
            reduction_g=BigInteger,
            points=BigInteger,
            methodology=String,
            book=String,
        )
    return clause
