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

from sqlalchemy import Table, and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
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


class LeaseLost(Exception):
    """The partition has another owner (or epoch) now: this worker must stop writing for it."""


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


async def fence(
    conn: AsyncConnection, partition: int, worker: str, epoch: int, count: int, lease_until: datetime
) -> int:
    """Reserve ``count`` sequence numbers of the partition, proving the lease is still ours (and
    extending it: a partition busy settling renews with every batch): the first number. Raises
    LeaseLost otherwise (the transaction must then roll back)."""
    row = (
        await conn.execute(
            update(PARTITIONS)
            .where(*_held(partition, worker, epoch))
            .values(seq=PARTITIONS.c.seq + count, lease_until=lease_until)
            .returning(PARTITIONS.c.seq)
        )
    ).first()
    if row is None:
        raise LeaseLost(f"partition {partition} is no longer held by {worker} at epoch {epoch}")
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


async def write(
    conn: AsyncConnection,
    partition: int,
    first_seq: int,
    settled: Sequence[Settlement],
    now: datetime,
    webhook_partners: frozenset[str],
) -> Written:
    """Outcomes, their ledger transactions and the balances they move, and the webhook outbox rows.

    A second outcome for one action fails the transaction (primary key): the caller resettles."""
    outcomes = [_outcome_row(s, partition, first_seq + i, now) for i, s in enumerate(settled)]
    txs = [s.transaction for s in settled if s.transaction is not None]
    tx_rows = [tx_row(tx, now) for tx in txs]
    deltas = balance_deltas(txs, partition)
    if _pg(conn):
        await copy_rows(conn, "outcomes", OUTCOME_COLUMNS, outcomes)
        if tx_rows:
            await copy_rows(conn, "ledger_transactions", TX_COLUMNS, tx_rows)
            await add_balances(conn, deltas)
    else:
        await conn.execute(OUTCOMES.insert(), [dict(zip(OUTCOME_COLUMNS, r, strict=True)) for r in outcomes])
        if tx_rows:
            await conn.execute(TXS.insert(), [dict(zip(TX_COLUMNS, r, strict=True)) for r in tx_rows])
            await add_balances(conn, deltas)
    hooks = [
        {
            "partner_id": s.accepted.action.partner_id,
            "event_id": s.accepted.action.event_id,
            "kind": "action.settled",
            "payload": outcome_document(s.accepted.action.event_id, s.accepted.citizen_id, s.outcome),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for s in settled
        if s.accepted.action.partner_id in webhook_partners
    ]
    if hooks:
        await conn.execute(dialect_insert(conn, WEBHOOKS).on_conflict_do_nothing(), hooks)
    return Written(len(outcomes), len(tx_rows))


async def copy_rows(
    conn: AsyncConnection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` on the transaction's own connection: the cheapest bulk
    insert there is (performance.md), all or nothing with the rest of the transaction. Rows are
    rendered to COPY's text format in one string (psycopg's per-row writer costs ~10 µs a row)."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # psycopg.AsyncConnection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    async with driver.cursor() as cur, cur.copy(statement) as copy:
        await copy.write("".join("\t".join(map(_copy_text, row)) + "\n" for row in rows))


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


_PG_ADD_BALANCES = text(
    """
    INSERT INTO ledger_balances (account, shard, balance)
    SELECT a, s, d FROM unnest(CAST(:accounts AS text[]), CAST(:shards AS int[]), CAST(:deltas AS bigint[]))
         AS x(a, s, d)
    ON CONFLICT (account, shard) DO UPDATE SET balance = ledger_balances.balance + EXCLUDED.balance
    """
)
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
        await conn.execute(
            _PG_ADD_BALANCES,
            {
                "accounts": [a for a, _ in deltas],
                "shards": [s for _, s in deltas],
                "deltas": list(deltas.values()),
            },
        )
    else:
        await conn.execute(_SQLITE_ADD_BALANCE, [{"a": a, "s": s, "d": d} for (a, s), d in deltas.items()])


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
