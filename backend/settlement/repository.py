"""SQL of settlement: leases, outcomes, the ledger journal and balances, history, sweeping.

Receives an open connection; never commits. PostgreSQL gets the bulk paths (COPY, unnest);
SQLite, the embedded default, executemany.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Table, and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import (
    AcceptedAction,
    LedgerBalance,
    LedgerTransaction,
    SettledOutcome,
    SettlementCursor,
    SettlementPartition,
    SettlementWorker,
    WebhookDelivery,
)
from backend.models.types import UtcDateTime
from points_engine.ledger import Transaction
from points_engine.records import Accepted, accepted_from_row
from points_engine.rules import Outcome
from points_engine.settlement import Settlement

ACTIONS: Table = AcceptedAction.__table__  # type: ignore[assignment]
OUTCOMES: Table = SettledOutcome.__table__  # type: ignore[assignment]
TXS: Table = LedgerTransaction.__table__  # type: ignore[assignment]
BALANCES: Table = LedgerBalance.__table__  # type: ignore[assignment]
PARTITIONS: Table = SettlementPartition.__table__  # type: ignore[assignment]
WORKERS: Table = SettlementWorker.__table__  # type: ignore[assignment]
CURSORS: Table = SettlementCursor.__table__  # type: ignore[assignment]
WEBHOOKS: Table = WebhookDelivery.__table__  # type: ignore[assignment]

OUTCOME_COLUMNS = (
    "partner_id",
    "event_id",
    "citizen_id",
    "type",
    "occurred_at",
    "status",
    "reduction_g",
    "points",
    "reasons",
    "flagged",
    "methodology",
    "book",
    "partition",
    "seq",
    "settled_at",
)
TX_COLUMNS = ("tx_id", "kind", "cause", "debit", "credit", "amount", "booked_at")


# A second outcome for one action: raised through SQLAlchemy, or by psycopg itself from a COPY.
DUPLICATE_OUTCOME: tuple[type[Exception], ...] = (IntegrityError, psycopg.IntegrityError)


class LeaseLost(Exception):
    """The partition has another owner (or epoch) now: this worker must stop writing for it."""

    @classmethod
    def of(cls, partition: int, worker: str, epoch: int) -> LeaseLost:
        return cls(f"partition {partition} is no longer held by {worker} at epoch {epoch}")


def _pg(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql if _pg(conn) else sqlite).insert(table)


def _held(partition: int, worker: str, epoch: int) -> tuple[Any, ...]:
    c = PARTITIONS.c
    return c.partition == partition, c.owner == worker, c.epoch == epoch


# ---- leases ---------------------------------------------------------------------------------------


async def ensure_partitions(conn: AsyncConnection, partitions: int) -> None:
    rows = [{"partition": p, "epoch": 0, "seq": 0} for p in range(partitions)]
    await conn.execute(dialect_insert(conn, PARTITIONS).on_conflict_do_nothing(), rows)


async def acquire(
    conn: AsyncConnection, partition: int, worker: str, now: datetime, lease_s: float
) -> int | None:
    """Take a free or expired partition: its new epoch, or None if another worker holds it."""
    row = (
        await conn.execute(
            update(PARTITIONS)
            .where(
                PARTITIONS.c.partition == partition,
                (PARTITIONS.c.owner.is_(None)) | (PARTITIONS.c.lease_until < now),
            )
            .values(epoch=PARTITIONS.c.epoch + 1, owner=worker, lease_until=now + timedelta(seconds=lease_s))
            .returning(PARTITIONS.c.epoch)
        )
    ).first()
    return None if row is None else int(row[0])


async def renew(
    conn: AsyncConnection, partition: int, worker: str, epoch: int, now: datetime, lease_s: float
) -> bool:
    result = await conn.execute(
        update(PARTITIONS)
        .where(*_held(partition, worker, epoch))
        .values(lease_until=now + timedelta(seconds=lease_s))
    )
    return bool(result.rowcount)


async def release(conn: AsyncConnection, partition: int, worker: str, epoch: int) -> None:
    await conn.execute(
        update(PARTITIONS).where(*_held(partition, worker, epoch)).values(owner=None, lease_until=None)
    )


# Constant text, compiled once: built with the expression API, the statement cost more Python than
# the rest of a small batch's transaction (a worker fences every batch it writes).
_FENCE = text(
    """
    UPDATE settlement_partitions SET seq = seq + :count, lease_until = :until
    WHERE partition = :partition AND owner = :worker AND epoch = :epoch
    RETURNING seq
    """
).bindparams(bindparam("until", type_=UtcDateTime()))


async def fence(
    conn: AsyncConnection, partition: int, worker: str, epoch: int, count: int, lease_until: datetime
) -> int:
    """Reserve ``count`` sequence numbers of the partition, proving the lease is still ours (and
    extending it: a partition busy settling renews with every batch): the first number. Raises
    LeaseLost otherwise (the transaction must then roll back)."""
    params = {"count": count, "until": lease_until, "partition": partition, "worker": worker, "epoch": epoch}
    row = (await conn.execute(_FENCE, params)).first()
    if row is None:
        raise LeaseLost.of(partition, worker, epoch)
    return int(row[0]) - count


async def heartbeat(conn: AsyncConnection, worker: str, now: datetime, dead_after_s: float) -> int:
    """Record that ``worker`` is alive, forget dead ones: the number of live workers."""
    stmt = dialect_insert(conn, WORKERS).values(worker_id=worker, seen_at=now)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["worker_id"], set_={"seen_at": now}))
    await conn.execute(delete(WORKERS).where(WORKERS.c.seen_at < now - timedelta(seconds=dead_after_s)))
    return int((await conn.execute(select(func.count()).select_from(WORKERS))).scalar_one())


async def leave(conn: AsyncConnection, worker: str) -> None:
    await conn.execute(delete(WORKERS).where(WORKERS.c.worker_id == worker))
    await conn.execute(
        update(PARTITIONS).where(PARTITIONS.c.owner == worker).values(owner=None, lease_until=None)
    )


# ---- writing settlements --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    outcomes: int
    transactions: int


@dataclass(frozen=True, slots=True)
class Part:
    """One partition's settled batch and the first of the sequence numbers its fence reserved."""

    partition: int
    first_seq: int
    settled: Sequence[Settlement]


async def write(
    conn: AsyncConnection, parts: Sequence[Part], now: datetime, webhook_partners: frozenset[str]
) -> Written:
    """Outcomes, their ledger transactions and the balances they move, and the webhook outbox rows.

    A second outcome for one action fails the transaction (primary key): the caller resettles."""
    if _pg(conn):
        raw = await conn.get_raw_connection()
        return await write_pg(raw.driver_connection, parts, now, webhook_partners)
    txs, deltas = _journal(parts)
    outcomes = [
        _outcome_row(s, part.partition, part.first_seq + i, now)
        for part in parts
        for i, s in enumerate(part.settled)
    ]
    await conn.execute(OUTCOMES.insert(), [dict(zip(OUTCOME_COLUMNS, r, strict=True)) for r in outcomes])
    if txs:
        tx_rows = [tx_row(tx, now) for tx in txs]
        await conn.execute(TXS.insert(), [dict(zip(TX_COLUMNS, r, strict=True)) for r in tx_rows])
        await add_balances(conn, deltas)
    hooks = _hooks(parts, now, webhook_partners)
    if hooks:
        await conn.execute(dialect_insert(conn, WEBHOOKS).on_conflict_do_nothing(), hooks)
    return Written(sum(len(p.settled) for p in parts), len(txs))


async def write_pg(
    conn: psycopg.AsyncConnection[Any], parts: Sequence[Part], now: datetime, webhook_partners: frozenset[str]
) -> Written:
    """``write`` on PostgreSQL, on a psycopg connection in a transaction (``SettlementWriter``'s, or
    SQLAlchemy's driver connection): COPY for outcomes and transactions, one statement for balances."""
    txs, deltas = _journal(parts)
    rows = "".join(outcomes_copy(p.settled, p.partition, p.first_seq, now) for p in parts)
    await copy_raw(conn, "outcomes", OUTCOME_COLUMNS, rows)
    if txs:
        await copy_raw(conn, "ledger_transactions", TX_COLUMNS, txs_copy(txs, now))
        await conn.execute(ADD_BALANCES_PG, _balance_arrays(deltas))
    hooks = _hooks(parts, now, webhook_partners)
    if hooks:
        for hook in hooks:
            hook["payload"] = Jsonb(hook["payload"])
        async with conn.cursor() as cur:
            await cur.executemany(_HOOK_PG, hooks)
    return Written(sum(len(p.settled) for p in parts), len(txs))


# Fencing a part of a shared transaction (``fence``'s statement, in psycopg's parameter style).
FENCE_PG = """
    UPDATE settlement_partitions SET seq = seq + %(count)s, lease_until = %(until)s
    WHERE partition = %(partition)s AND owner = %(worker)s AND epoch = %(epoch)s
    RETURNING seq
"""
_HOOK_PG = """
    INSERT INTO webhook_deliveries
        (partner_id, event_id, kind, payload, attempts, next_attempt_at, created_at)
    VALUES (%(partner_id)s, %(event_id)s, %(kind)s, %(payload)s, %(attempts)s, %(next_attempt_at)s,
            %(created_at)s)
    ON CONFLICT DO NOTHING
"""


def _journal(parts: Sequence[Part]) -> tuple[list[Transaction], dict[tuple[str, int], int]]:
    """The parts' ledger transactions, and the balances they move in one lock order."""
    txs: list[Transaction] = []
    deltas: dict[tuple[str, int], int] = defaultdict(int)
    for part in parts:
        part_txs = [s.transaction for s in part.settled if s.transaction is not None]
        txs.extend(part_txs)
        for key, delta in balance_deltas(part_txs, part.partition).items():
            deltas[key] += delta
    return txs, dict(sorted(deltas.items()))  # one lock order for every writer


def _hooks(parts: Sequence[Part], now: datetime, webhook_partners: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {
            "partner_id": s.accepted.action.partner_id,
            "event_id": s.accepted.action.event_id,
            "kind": "action.settled",
            "payload": outcome_document(s.accepted.action.event_id, s.accepted.citizen_id, s.outcome),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for part in parts
        for s in part.settled
        if s.accepted.action.partner_id in webhook_partners
    ]


async def copy_rows(
    conn: AsyncConnection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` of ``rows`` (``copy_text`` of their rendering)."""
    await copy_text(conn, table, columns, "".join(map(_copy_line, rows)))


async def copy_text(conn: AsyncConnection, table: str, columns: Sequence[str], rows: str) -> None:
    """``copy_raw`` on the transaction's own connection."""
    raw = await conn.get_raw_connection()
    await copy_raw(raw.driver_connection, table, columns, rows)


async def copy_raw(conn: psycopg.AsyncConnection[Any], table: str, columns: Sequence[str], rows: str) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` of rows already in COPY's text format: the cheapest bulk
    insert there is (performance.md), all or nothing with the rest of the transaction. One string
    (psycopg's per-row writer costs ~10 µs a row)."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        await copy.write(rows)


def outcomes_copy(settled: Sequence[Settlement], partition: int, first_seq: int, now: datetime) -> str:
    """The rows of ``OUTCOME_COLUMNS`` for ``settled`` (sequence numbers from ``first_seq``) in COPY's
    text format: ``_outcome_row`` rendered by ``_copy_line``, at a fifth of the cost, as one f-string
    per row (a worker renders a row per action)."""
    tail = f"\t{partition}\t"
    settled_at = f"\t{_copy_text(now)}\n"
    lines = []
    for seq, s in enumerate(settled, first_seq):
        a, o = s.accepted.action, s.outcome
        lines.append(
            f"{a.partner_id}\t{a.event_id}\t{s.accepted.citizen_id}\t{a.type}\t{a.occurred_at.isoformat()}"
            f"\t{o.status}\t{o.reduction_g}\t{o.points}\t{' '.join(o.reasons)}\t{'t' if o.flagged else 'f'}"
            f"\t{o.methodology}\t{o.book}{tail}{seq}{settled_at}"
        )
    rows = "".join(lines)
    if _plain(rows, len(lines), len(OUTCOME_COLUMNS)):
        return rows
    rendered = (_outcome_row(s, partition, seq, now) for seq, s in enumerate(settled, first_seq))
    return "".join(map(_copy_line, rendered))  # a value to escape: each one rendered on its own


def txs_copy(txs: Sequence[Transaction], now: datetime) -> str:
    """The rows of ``TX_COLUMNS`` for ``txs`` in COPY's text format (``tx_row`` by ``_copy_line``)."""
    booked_at = f"\t{_copy_text(now)}\n"
    lines = []
    for tx in txs:
        debit, credit = tx.postings
        accounts = f"{debit.account}\t{credit.account}"
        lines.append(f"{tx.tx_id}\t{tx.kind}\t{tx.cause}\t{accounts}\t{credit.amount}{booked_at}")
    rows = "".join(lines)
    if _plain(rows, len(lines), len(TX_COLUMNS)):
        return rows
    return "".join(_copy_line(tx_row(tx, now)) for tx in txs)  # a value to escape (see above)


def _plain(rows: str, count: int, columns: int) -> bool:
    """Whether no value of ``count`` rows rendered by f-strings holds a character COPY must escape
    (ids and codes never do): exactly the tabs between values and a newline per row, no backslash,
    no carriage return. (Values the f-strings would render otherwise, None and bools, are never in
    those rows.) Checked once per batch: a handful of scans in C."""
    return (
        rows.count("\t") == count * (columns - 1)
        and rows.count("\n") == count
        and "\\" not in rows
        and "\r" not in rows
    )


def _copy_line(row: Sequence[Any]) -> str:
    return "\t".join(map(_copy_text, row)) + "\n"


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if _COPY_SPECIAL.search(text):  # ids and codes never hold these; escaped all the same
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


# psycopg's parameter style: run as is by psycopg, and through SQLAlchemy by exec_driver_sql.
ADD_BALANCES_PG = """
    INSERT INTO ledger_balances (account, shard, balance)
    SELECT a, s, d FROM unnest(%(accounts)s::text[], %(shards)s::int[], %(deltas)s::bigint[]) AS x(a, s, d)
    ON CONFLICT (account, shard) DO UPDATE SET balance = ledger_balances.balance + EXCLUDED.balance
"""
_SQLITE_ADD_BALANCE = text(
    """
    INSERT INTO ledger_balances (account, shard, balance) VALUES (:a, :s, :d)
    ON CONFLICT (account, shard) DO UPDATE SET balance = balance + excluded.balance
    """
)


async def add_balances(conn: AsyncConnection, deltas: dict[tuple[str, int], int]) -> None:
    """Add each delta to its (account, shard) balance, creating the row; pass them sorted
    (``balance_deltas`` does) so that concurrent writers lock rows in one order."""
    if not deltas:
        return
    if _pg(conn):
        await conn.exec_driver_sql(ADD_BALANCES_PG, _balance_arrays(deltas))
    else:
        await conn.execute(_SQLITE_ADD_BALANCE, [{"a": a, "s": s, "d": d} for (a, s), d in deltas.items()])


def _balance_arrays(deltas: dict[tuple[str, int], int]) -> dict[str, list[Any]]:
    accounts, shards = [a for a, _ in deltas], [s for _, s in deltas]
    return {"accounts": accounts, "shards": shards, "deltas": list(deltas.values())}


def balance_deltas(txs: Iterable[Transaction], partition: int) -> dict[tuple[str, int], int]:
    """Per (account, shard), the change of balance, in a stable order (no lock-order deadlocks).
    Source accounts (issuance) are written by every partition: each writes its own shard."""
    deltas: dict[tuple[str, int], int] = defaultdict(int)
    for tx in txs:
        for p in tx.postings:
            shard = partition if p.account.may_go_negative else 0
            deltas[(str(p.account), shard)] += p.amount
    return dict(sorted(deltas.items()))


def _outcome_row(s: Settlement, partition: int, seq: int, now: datetime) -> tuple[Any, ...]:
    a, o = s.accepted.action, s.outcome
    return (
        a.partner_id,
        a.event_id,
        s.accepted.citizen_id,
        a.type,
        a.occurred_at,
        o.status,
        o.reduction_g,
        o.points,
        " ".join(o.reasons),
        o.flagged,
        o.methodology,
        o.book,
        partition,
        seq,
        now,
    )


def tx_row(tx: Transaction, now: datetime) -> tuple[Any, ...]:
    return (tx.tx_id, tx.kind, tx.cause, str(tx.debit.account), str(tx.credit.account), tx.amount, now)


def outcome_document(event_id: str, citizen_id: str, outcome: Outcome) -> dict[str, Any]:
    """The outcome as the contract shows it (``GET /v1/partner/actions/{event_id}``, webhooks)."""
    return {
        "event_id": event_id,
        "status": outcome.status,
        "citizen_id": citizen_id,
        "reduction_g": outcome.reduction_g,
        "points": outcome.points,
        "methodology": outcome.methodology,
        "book": outcome.book,
        "reasons": list(outcome.reasons),
    }


# ---- reading --------------------------------------------------------------------------------------


async def settled_keys(conn: AsyncConnection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (partner_id, event_id) already have an outcome."""
    by_partner: dict[str, list[str]] = defaultdict(list)
    for partner_id, event_id in keys:
        by_partner[partner_id].append(event_id)
    found: set[tuple[str, str]] = set()
    stmt = select(OUTCOMES.c.event_id).where(
        OUTCOMES.c.partner_id == bindparam("p"), OUTCOMES.c.event_id.in_(bindparam("e", expanding=True))
    )
    for partner_id, event_ids in by_partner.items():
        rows = await conn.execute(stmt, {"p": partner_id, "e": event_ids})
        found.update((partner_id, r[0]) for r in rows)
    return found


async def history(
    conn: AsyncConnection, citizen_ids: Sequence[str], keep: timedelta
) -> dict[str, list[tuple[Accepted, Outcome]]]:
    """Per citizen, the outcomes that shape its rules state, in settlement order: those not rejected
    whose occurred_at is within ``keep`` of the citizen's latest one (older ones are pruned anyway)."""
    if not citizen_ids:
        return {}
    if _pg(conn):
        ids_once = list(dict.fromkeys(citizen_ids))  # (one history each, as the IN list gave)
        rows = await conn.execute(_HISTORY, {"ids": ids_once, "keep": keep})
        return _histories(rows)
    ids = bindparam("ids", expanding=True)
    latest = await conn.execute(
        select(OUTCOMES.c.citizen_id, func.max(OUTCOMES.c.occurred_at))
        .where(OUTCOMES.c.citizen_id.in_(ids), OUTCOMES.c.status != "rejected")
        .group_by(OUTCOMES.c.citizen_id),
        {"ids": list(citizen_ids)},
    )
    since = {cid: at for cid, at in latest}
    if not since:
        return {}
    a, o = ACTIONS.c, OUTCOMES.c
    rows = await conn.execute(
        select(
            o.partner_id, o.event_id, o.citizen_id, o.status, o.reduction_g, o.points, o.reasons,
            o.flagged, o.methodology, o.book, a.user, a.type, a.occurred_at, a.region, a.data,
        )
        .join_from(OUTCOMES, ACTIONS, and_(a.partner_id == o.partner_id, a.event_id == o.event_id))
        .where(o.citizen_id.in_(ids), o.status != "rejected", o.occurred_at >= min(since.values()) - keep)
        .order_by(o.citizen_id, o.seq),
        {"ids": list(since)},
    )  # fmt: skip
    return _histories(rows)


# PostgreSQL: per citizen, its latest recorded outcome, then the ones within ``keep`` of it, then
# their actions, each an index probe whatever the statistics say. As one IN list and a join, a
# fresh or freshly grown outcomes table (no statistics yet) was planned as sequential scans of
# outcomes and actions with hash joins: 82 scans reading 3.8 M rows in one 100,000-action bench
# run. OFFSET 0 keeps the middle subquery from being flattened into such a join. The keys of
# outcomes are "C"-collated and those of actions are not: compared as they are, the two collations
# conflict and actions' primary key cannot serve (a sequential scan per row, measured).
_OUTCOME_READ = ("partner_id", "event_id", "citizen_id", "status", "reduction_g", "points", "reasons",
                 "flagged", "methodology", "book")  # fmt: skip
_ACTION_READ = ("user", "type", "occurred_at", "region", "data")
HISTORY_SQL = """
SELECT o.partner_id, o.event_id, o.citizen_id, o.status, o.reduction_g, o.points, o.reasons,
       o.flagged, o.methodology, o.book, a."user", a.type, a.occurred_at, a.region, a.data
FROM unnest(CAST(:ids AS text[])) AS ids(c)
CROSS JOIN LATERAL (
    SELECT occurred_at AS latest FROM outcomes
    WHERE citizen_id = ids.c AND status <> 'rejected'
    ORDER BY occurred_at DESC LIMIT 1
) l
CROSS JOIN LATERAL (
    SELECT partner_id, event_id, citizen_id, status, reduction_g, points, reasons, flagged,
           methodology, book, seq
    FROM outcomes
    WHERE citizen_id = ids.c AND status <> 'rejected' AND occurred_at >= l.latest - CAST(:keep AS interval)
    OFFSET 0
) o
CROSS JOIN LATERAL (
    SELECT "user", type, occurred_at, region, data FROM actions
    WHERE partner_id = o.partner_id COLLATE "default" AND event_id = o.event_id COLLATE "default" LIMIT 1
) a
ORDER BY o.citizen_id, o.seq
"""
_HISTORY = text(HISTORY_SQL).columns(
    *(OUTCOMES.c[n] for n in _OUTCOME_READ), *(ACTIONS.c[n] for n in _ACTION_READ)
)


def _histories(rows: Iterable[Any]) -> dict[str, list[tuple[Accepted, Outcome]]]:
    result: dict[str, list[tuple[Accepted, Outcome]]] = defaultdict(list)
    for r in rows:
        accepted = accepted_from_row(
            r.partner_id, r.event_id, r.citizen_id, r.user, r.type, r.occurred_at, r.region, r.data
        )
        result[r.citizen_id].append((accepted, outcome_of(r)))
    return result


def outcome_of(row: Any) -> Outcome:
    return Outcome(
        status=row.status,
        reduction_g=row.reduction_g,
        points=row.points,
        reasons=tuple(row.reasons.split()),
        flagged=row.flagged,
        methodology=row.methodology,
        book=row.book,
    )


async def outcome_row(conn: AsyncConnection, partner_id: str, event_id: str) -> Any:
    rows = await conn.execute(
        select(OUTCOMES).where(OUTCOMES.c.partner_id == partner_id, OUTCOMES.c.event_id == event_id)
    )
    return rows.first()


async def unsettled(conn: AsyncConnection, since: datetime, before: datetime, limit: int) -> list[Any]:
    """Accepted actions received in [since, before) that have no outcome, oldest first."""
    a, o = ACTIONS.c, OUTCOMES.c
    settled = exists().where(o.partner_id == a.partner_id, o.event_id == a.event_id)
    rows = await conn.execute(
        select(ACTIONS)
        .where(a.received_at >= since, a.received_at < before, ~settled)
        .order_by(a.received_at)
        .limit(limit)
    )
    return list(rows)


async def cursor(conn: AsyncConnection, name: str) -> datetime | None:
    return (await conn.execute(select(CURSORS.c.at).where(CURSORS.c.name == name))).scalar_one_or_none()


async def set_cursor(conn: AsyncConnection, name: str, at: datetime) -> None:
    stmt = dialect_insert(conn, CURSORS).values(name=name, at=at)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": at}))
