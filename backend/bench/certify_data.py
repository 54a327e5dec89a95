"""Settled outcomes for the certification phase, made by PostgreSQL itself (set-based SQL, no rows
through Python): what settlement would have left after a month of a city's actions.

N outcomes of book shantou over one past month (Asia/Shanghai), in settlement order: 4 partners,
~N/20 citizens (``c_…``), 7 methodologies; about 2 % rejected (no grams), 2 % flagged for review,
3 % capped, the rest credited. Each with its settle ledger transaction (the tx_id that
``points_engine.ledger.settle_tx`` gives, checked against it on a sample), the citizens' pending
balances and the issuance shards, and the settlement partitions' seqs: outcome ``i`` is seq
``i // P + 1`` of partition ``i % P``, and its citizen is one of that partition's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from backend.bench.errors import BenchError
from points_engine.certification import Period
from points_engine.ledger import Account, settle_tx
from points_engine.regions import Book

BOOK: Book = "shantou"
CITIZENS_PER_ACTION = 1 / 20
SAMPLE = 200  # settle transactions checked against points_engine.ledger

_OUTCOMES = """
INSERT INTO outcomes (partner_id, event_id, citizen_id, type, occurred_at, status, reduction_g, points,
                      reasons, flagged, methodology, book, partition, seq, settled_at)
SELECT partner, event_id, 'c_' || substr(md5('citizen/' || citizen), 1, 26), kind, occurred_at,
       CASE WHEN roll < 2 THEN 'rejected' WHEN roll >= 4 AND roll < 7 THEN 'capped' ELSE 'credited' END,
       grams, grams,
       CASE WHEN roll < 2 THEN 'implausible-speed' WHEN roll < 4 THEN 'repetition-review'
            WHEN roll < 7 THEN 'daily-cap' ELSE '' END,
       roll >= 2 AND roll < 4, methodology, %(book)s, part, seq, occurred_at + interval '3 seconds'
  FROM (
    SELECT part, seq, citizen, roll, occurred_at,
           (ARRAY['transit_st', 'transit_st', 'bike_st', 'waste_st', 'canteen_st'])[h %% 5 + 1] AS partner,
           (ARRAY['trip', 'trip', 'trip', 'waste_sorting', 'clean_plate'])[h %% 5 + 1] AS kind,
           CASE h %% 5
             WHEN 0 THEN (ARRAY['trip.bus@2026.1', 'trip.metro@2026.1'])[(h / 5) %% 2 + 1]
             WHEN 1 THEN (ARRAY['trip.bus@2026.1', 'trip.walk@2026.1'])[(h / 5) %% 2 + 1]
             WHEN 2 THEN 'trip.bike@2026.1'
             WHEN 3 THEN (ARRAY['waste.recyclable.paper@2026.1', 'waste.kitchen@2026.1'])[(h / 5) %% 2 + 1]
             ELSE 'clean_plate@2026.1'
           END AS methodology,
           'ev-' || substr(md5(%(seed)s || '/' || i), 1, 12) || '-' || to_hex(i) AS event_id,
           CASE WHEN roll < 2 THEN 0 ELSE 40 + (h / 10) %% 2400 END AS grams
      FROM (
        SELECT i, i %% %(parts)s AS part, i / %(parts)s + 1 AS seq,
               ((i / %(parts)s * 7919 + i %% 13) %% %(per_part)s) * %(parts)s + i %% %(parts)s AS citizen,
               %(start)s::timestamptz + (i::float8 * %(span_s)s / %(n)s) * interval '1 second' AS occurred_at,
               hashint8extended(i, %(seed)s) & 9223372036854775807 AS h,
               (hashint8extended(i, %(seed)s) & 9223372036854775807) / 100000 %% 100 AS roll
          FROM generate_series(0::bigint, %(n)s - 1) AS i
      ) g
  ) o
"""

_SETTLE_TXS = """
INSERT INTO ledger_transactions (tx_id, kind, cause, debit, credit, amount, booked_at)
SELECT 'tx_' || left(encode(sha256(convert_to('settle' || chr(31) || partner_id || '/' || event_id, 'UTF8')),
                            'hex'), 32),
       'settle', partner_id || '/' || event_id, %(issuance)s, 'citizen:' || citizen_id || ':pending',
       points, settled_at
  FROM outcomes WHERE points > 0
"""

_BALANCES = """
INSERT INTO ledger_balances (account, shard, balance)
SELECT 'citizen:' || citizen_id || ':pending', 0, sum(points)
  FROM outcomes WHERE points > 0 GROUP BY citizen_id
UNION ALL
SELECT %(issuance)s, partition, -sum(points) FROM outcomes WHERE points > 0 GROUP BY partition
"""

_PARTITIONS = """
INSERT INTO settlement_partitions (partition, epoch, seq)
SELECT p, 0, coalesce((SELECT max(seq) FROM outcomes WHERE partition = p), 0)
  FROM generate_series(0, %(parts)s - 1) AS p
ON CONFLICT (partition) DO UPDATE SET seq = EXCLUDED.seq
"""

# The run's members by the rules of docs/certification.md, written apart from
# backend.certification.members so that the bench checks that code rather than repeats it.
_ELIGIBLE = """
SELECT count(*), coalesce(sum(reduction_g), 0), coalesce(sum(points), 0)
  FROM outcomes
 WHERE book = %(book)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
   AND NOT flagged AND status IN ('credited', 'capped') AND reduction_g > 0
"""


@dataclass(frozen=True)
class Generated:
    outcomes: int
    citizens: int
    partitions: int
    seconds: float


@dataclass(frozen=True)
class Expected:
    """What the run over the generated month must cover, counted straight from ``outcomes``."""

    actions: int
    reduction_g: int
    points: int
    all_points: int  # of every outcome, eligible or not: the citizens' pending balances before the run


def generate(conn: psycopg.Connection[Any], n: int, period: Period, parts: int, seed: int) -> Generated:
    """Write the outcomes, settle transactions, balances and partition seqs; one transaction."""
    started = datetime.now()
    per_part = max(1, round(n * CITIZENS_PER_ACTION / parts))
    params = {
        "n": n,
        "parts": parts,
        "per_part": per_part,
        "seed": seed,
        "book": BOOK,
        "start": period.start,
        "span_s": (period.end - period.start).total_seconds() - 1,
        "issuance": str(Account.issuance(BOOK)),
    }
    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute("SET LOCAL work_mem = '256MB'")
        with _indexes_rebuilt(conn, ("outcomes", "ledger_transactions")):
            conn.execute(_OUTCOMES, params)
            conn.execute(_SETTLE_TXS, params)
        conn.execute(_BALANCES, params)
        conn.execute(_PARTITIONS, params)
    for table in ("outcomes", "ledger_transactions", "ledger_balances", "settlement_partitions"):
        conn.execute(f"VACUUM (ANALYZE) {table}")  # as autovacuum would have left a month-old table
    check_settle_txs(conn)
    citizens = conn.execute("SELECT count(DISTINCT citizen_id) FROM outcomes").fetchone()
    return Generated(
        n, int(citizens[0]) if citizens else 0, parts, (datetime.now() - started).total_seconds()
    )


@contextmanager
def _indexes_rebuilt(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' indexes and keys for a bulk insert and build them again from their own
    definitions afterwards: one sort each instead of ten million random B-tree inserts."""
    keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u')",
        (list(tables),),
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (list(tables),),
    ).fetchall()
    for table, name, _ in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
        )
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    for table, name, definition in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )
    for _, definition in indexes:
        conn.execute(sql.SQL(definition))


def check_settle_txs(conn: psycopg.Connection[Any]) -> None:
    """The SQL-made settle transactions are the ones ``settle_tx`` makes (a sample of them)."""
    outcomes = conn.execute(
        "SELECT partner_id, event_id, citizen_id, points FROM outcomes WHERE points > 0 "
        "ORDER BY partner_id, event_id LIMIT %s",
        (SAMPLE,),
    ).fetchall()
    want = {
        tx.tx_id: (tx.tx_id, tx.kind, tx.cause, str(tx.debit.account), str(tx.credit.account), tx.amount)
        for tx in (settle_tx(BOOK, c, f"{p}/{e}", points) for p, e, c, points in outcomes)
    }
    made = conn.execute(
        "SELECT tx_id, kind, cause, debit, credit, amount FROM ledger_transactions WHERE tx_id = ANY(%s)",
        (list(want),),
    ).fetchall()
    if {row[0]: tuple(row) for row in made} != want:
        raise BenchError("the generated settle transactions are not the ones points_engine.ledger makes")


def expected(conn: psycopg.Connection[Any], period: Period) -> Expected:
    counted = conn.execute(_ELIGIBLE, {"book": BOOK, "start": period.start, "end": period.end}).fetchone()
    total = conn.execute("SELECT coalesce(sum(points), 0) FROM outcomes").fetchone()
    if counted is None or total is None:  # aggregates always answer one row
        raise BenchError("no answer counting the generated outcomes")
    return Expected(int(counted[0]), int(counted[1]), int(counted[2]), int(total[0]))
