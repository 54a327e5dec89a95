"""Issuing a certification run (docs/certification.md).

One transaction per run, serialised per book by a lock on the book's row:
1. the run's watermarks: per settlement partition, from where the book and period's last run
   stopped to the partition's committed ``seq`` now (seqs only grow, under the lease, so an
   outcome committed later has a higher one and waits for the next run);
2. approved reviews of the book and period not yet certified are claimed by the run;
3. its leaves are streamed in tree order, hashed, and folded into chunk roots (flat memory);
4. the run, its chunks, its serial range (held by the book's registry account), the book's new
   carry-over and the audit event are written.
Then the citizens' points move from pending to available in chunks of citizens, each its own
idempotent transaction (``certify-run`` by run and citizen), and the run becomes ``complete``.
A crash between the two leaves the run ``issued``; ``complete_runs`` finishes it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit
from backend.certification.books import BOOK_ROWS, ensure_books
from backend.certification.members import RunScope, leaf_chunks, points_by_citizen, totals
from backend.db import Database
from backend.errors import InvalidRequest, NothingToCertify, PeriodNotBegun, UnknownRun
from backend.ledger_store import post
from backend.models import CertificationRun, CreditRange, Review, RunChunk, RunWatermark, SettlementPartition
from backend.settlement.repository import tx_row
from points_engine.certification import Period, chunked_root, issue, root_of_hashes, run_id
from points_engine.errors import InvariantViolation
from points_engine.ledger import Account, InsufficientBalance, certify_run_tx
from points_engine.regions import BOOKS, Book

RUNS: Table = CertificationRun.__table__  # type: ignore[assignment]
WATERMARKS: Table = RunWatermark.__table__  # type: ignore[assignment]
CHUNKS: Table = RunChunk.__table__  # type: ignore[assignment]
RANGES: Table = CreditRange.__table__  # type: ignore[assignment]
REVIEWS: Table = Review.__table__  # type: ignore[assignment]
PARTITIONS: Table = SettlementPartition.__table__  # type: ignore[assignment]

MOVE_CHUNK = 5000  # citizens per points transaction
# Chunks written at once, in their own transactions: disjoint citizens, so no lock is shared, and
# PostgreSQL writes on two cores while this process streams the next chunk.
MOVE_WRITERS = 2

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    book: str
    period: str
    number: int
    vintage: int
    status: str
    tree_size: int
    root: str
    reduction_g: int
    carry_in_g: int
    carry_out_g: int
    tonnes: int
    points: int
    serial: str | None
    actor: str
    started_at: datetime
    issued_at: datetime
    completed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Every field of a run's record but its serial is a column of certification_runs.
RUN_FIELDS = tuple(f.name for f in fields(RunRecord) if f.name != "serial")


def parse_book(book: str) -> Book:
    for b in BOOKS:
        if b == book:
            return b
    raise InvalidRequest(f"unknown book {book!r} (books: {', '.join(BOOKS)})")


def scope_of(run: Any) -> RunScope:
    period = Period.parse(run.period)
    return RunScope(run.run_id, run.book, period.start, period.end)


async def certify(
    db: Database,
    book: str,
    period_text: str,
    *,
    actor: str,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RunRecord:
    """Issue the run of ``book`` over ``period_text`` and move its points; NothingToCertify if no
    action settled since the period's last run (nothing is written then)."""
    the_book = parse_book(book)
    period = Period.parse(period_text)
    started = now or datetime.now(UTC)
    if not period.has_begun(started):
        raise PeriodNotBegun(f"{period} begins at {period.start.isoformat()}: it cannot be certified yet")
    await complete_runs(db, progress=progress)
    async with db.transaction() as tx:
        rid = await _issue(tx.conn, the_book, period, actor, started, progress)
        await audit.record(tx, actor, "certification.run", rid, await _audit_details(tx.conn, rid))
    await complete_run(db, rid, progress=progress)
    return await get_run(db, rid)


async def _issue(
    conn: AsyncConnection,
    book: Book,
    period: Period,
    actor: str,
    started: datetime,
    progress: Progress | None,
) -> str:
    await ensure_books(conn, started)
    carry_in, runs = (
        await conn.execute(
            select(BOOK_ROWS.c.carry_g, BOOK_ROWS.c.runs).where(BOOK_ROWS.c.book == book).with_for_update()
        )
    ).one()
    number = runs + 1
    rid = run_id(book, str(period), number)
    scope = RunScope(rid, book, period.start, period.end)
    marks = await _watermarks(conn, book, str(period))
    if marks:
        await conn.execute(
            WATERMARKS.insert(),
            [
                {
                    "run_id": rid,
                    "partition": p,
                    "book": book,
                    "period": str(period),
                    "from_seq": lo,
                    "to_seq": hi,
                }
                for p, (lo, hi) in marks.items()
            ],
        )
    await conn.execute(
        update(REVIEWS)
        .where(
            REVIEWS.c.run_id.is_(None),
            REVIEWS.c.decision == "approved",
            REVIEWS.c.book == book,
            REVIEWS.c.period == str(period),
        )
        .values(run_id=rid)
    )
    counted = await totals(conn, scope)
    if counted.actions == 0:
        raise NothingToCertify(f"no action of book {book} in {period} has settled since its last run")
    chunk_roots: list[bytes] = []
    chunk_rows: list[dict[str, Any]] = []
    size = 0
    if progress:
        progress("hash", 0, counted.actions)
    async for chunk in leaf_chunks(conn, scope):
        root = root_of_hashes(chunk.hashes)[0]
        chunk_roots.append(root)
        chunk_rows.append(
            {
                "run_id": rid,
                "chunk": len(chunk_rows),
                "first_partner_id": chunk.first_partner_id,
                "first_event_id": chunk.first_event_id,
                "size": len(chunk.hashes),
                "root": root.hex(),
            }
        )
        size += len(chunk.hashes)
        if progress:
            progress("hash", size, counted.actions)
    if size != counted.actions:  # the same snapshot read twice cannot differ: a bug, not data
        raise RuntimeError(f"run {rid}: {size} leaves streamed, {counted.actions} counted")
    for i in range(0, len(chunk_rows), 5000):
        await conn.execute(CHUNKS.insert(), chunk_rows[i : i + 5000])
    issued = issue(book, period.vintage, number, int(carry_in), counted.reduction_g)
    now = datetime.now(UTC)
    await conn.execute(
        RUNS.insert().values(
            run_id=rid,
            book=book,
            period=str(period),
            number=number,
            vintage=period.vintage,
            status="issued",
            tree_size=size,
            root=chunked_root(chunk_roots).hex(),
            reduction_g=counted.reduction_g,
            carry_in_g=int(carry_in),
            carry_out_g=issued.carry_out_g,
            tonnes=issued.tonnes,
            points=counted.points,
            actor=actor,
            started_at=started,
            issued_at=now,
        )
    )
    if issued.range is not None:
        block = issued.range
        await conn.execute(
            RANGES.insert().values(
                serial=str(block),
                run_id=rid,
                book=book,
                vintage=block.vintage,
                run_number=block.run,
                first=block.start,
                last=block.end,
                account_id=book,
                status="active",
                created_at=now,
            )
        )
    await conn.execute(
        update(BOOK_ROWS).where(BOOK_ROWS.c.book == book).values(carry_g=issued.carry_out_g, runs=number)
    )
    return rid


async def _watermarks(conn: AsyncConnection, book: str, period: str) -> dict[int, tuple[int, int]]:
    """Per partition with outcomes since the period's last run: (from_seq, to_seq)."""
    now_seq = {p: s for p, s in await conn.execute(select(PARTITIONS.c.partition, PARTITIONS.c.seq))}
    done = {
        p: s
        for p, s in await conn.execute(
            select(WATERMARKS.c.partition, func.max(WATERMARKS.c.to_seq))
            .where(WATERMARKS.c.book == book, WATERMARKS.c.period == period)
            .group_by(WATERMARKS.c.partition)
        )
    }
    return {p: (done.get(p, 0), s) for p, s in sorted(now_seq.items()) if s > done.get(p, 0)}


async def _audit_details(conn: AsyncConnection, rid: str) -> dict[str, Any]:
    run = (await conn.execute(select(RUNS).where(RUNS.c.run_id == rid))).one()
    serials = [r[0] for r in await conn.execute(select(RANGES.c.serial).where(RANGES.c.run_id == rid))]
    return {
        "book": run.book,
        "period": run.period,
        "tree_size": run.tree_size,
        "root": run.root,
        "reduction_g": run.reduction_g,
        "carry_in_g": run.carry_in_g,
        "carry_out_g": run.carry_out_g,
        "tonnes": run.tonnes,
        "points": run.points,
        "serials": serials,
    }


async def complete_run(db: Database, rid: str, *, progress: Progress | None = None) -> None:
    """Move the run's points from pending to available, one transaction per chunk of citizens,
    streamed from one read of the run's members (each chunk is idempotent: a rerun skips it)."""
    async with db.read() as conn:
        run = (await conn.execute(select(RUNS).where(RUNS.c.run_id == rid))).one()
        if run.status == "complete":
            return
        if progress:
            progress("points", 0, int(run.points))
        moved = 0
        chunk: list[tuple[str, int]] = []
        writing: deque[asyncio.Task[int]] = deque()
        try:
            async for citizen, points in points_by_citizen(conn, scope_of(run)):
                chunk.append((citizen, points))
                if len(chunk) == MOVE_CHUNK:
                    writing.append(asyncio.create_task(_move(db, rid, chunk)))
                    chunk = []
                    if len(writing) == MOVE_WRITERS:
                        moved += await writing.popleft()
                        if progress:
                            progress("points", moved, int(run.points))
            writing.append(asyncio.create_task(_move(db, rid, chunk)))
            while writing:
                moved += await writing.popleft()
        finally:
            for task in writing:  # after a failure: stop the other writers, then let it propagate
                task.cancel()
            await asyncio.gather(*writing, return_exceptions=True)
    async with db.transaction() as tx:
        await tx.conn.execute(
            update(RUNS).where(RUNS.c.run_id == rid).values(status="complete", completed_at=tx.started_at)
        )
    if progress:
        progress("points", moved, int(run.points))


async def _move(db: Database, rid: str, chunk: list[tuple[str, int]]) -> int:
    if chunk:
        async with db.transaction() as tx:
            if tx.conn.dialect.name == "postgresql":
                await _pg_move(tx.conn, rid, chunk, tx.started_at)
            else:
                await post(tx.conn, [certify_run_tx(rid, c, p) for c, p in chunk], tx.started_at)
    return sum(p for _, p in chunk)


# ``certify_run_tx(run, citizen, points)`` for many citizens at once, rendered by PostgreSQL:
# _pg_move holds each chunk's first row equal to the builder's transaction before writing it.
_PG_CERTIFY_TXS = """
    SELECT 'tx_' || left(encode(sha256(convert_to('certify-run' || chr(31) || :run_id || '/' || c, 'UTF8')),
                                'hex'), 32) AS tx_id,
           'certify-run' AS kind, :run_id || '/' || c AS cause,
           'citizen:' || c || '\\:pending' AS debit, 'citizen:' || c || '\\:available' AS credit, p AS amount
      FROM unnest(CAST(:citizens AS text[]), CAST(:points AS bigint[])) AS x(c, p)
"""
# What ``post`` does for them, as one statement: append the transactions the journal lacks, move
# the balances of the new ones only (in account order, as add_balances locks), and answer the
# first citizen account driven below zero, if any.
_PG_MOVE = text(
    f"""
    WITH fresh AS (
        INSERT INTO ledger_transactions (tx_id, kind, cause, debit, credit, amount, booked_at)
        SELECT t.*, :now FROM ({_PG_CERTIFY_TXS}) t ORDER BY t.tx_id
        ON CONFLICT (tx_id) DO NOTHING
        RETURNING debit, credit, amount
    ), deltas AS (
        SELECT account, sum(delta) AS delta
          FROM (SELECT debit AS account, -amount AS delta FROM fresh
                UNION ALL SELECT credit, amount FROM fresh) d
         GROUP BY account
    ), moved AS (
        INSERT INTO ledger_balances (account, shard, balance)
        SELECT account, 0, delta FROM deltas ORDER BY account
        ON CONFLICT (account, shard) DO UPDATE SET balance = ledger_balances.balance + EXCLUDED.balance
        RETURNING account, balance
    )
    SELECT m.account, m.balance, d.delta FROM moved m JOIN deltas d USING (account)
     WHERE m.balance < 0 ORDER BY m.account LIMIT 1
    """
)


async def _pg_move(conn: AsyncConnection, rid: str, chunk: list[tuple[str, int]], now: datetime) -> None:
    """``post`` of the chunk's ``certify_run_tx``s, set-based (citizen accounts have one shard)."""
    built = certify_run_tx(rid, *chunk[0])
    sample = (
        await conn.execute(
            text(_PG_CERTIFY_TXS), {"run_id": rid, "citizens": [chunk[0][0]], "points": [chunk[0][1]]}
        )
    ).one()
    if tuple(sample) != tx_row(built, now)[:6]:
        raise InvariantViolation(f"certify-run transaction rendered by SQL {tuple(sample)} is not {built}")
    params = {"run_id": rid, "citizens": [c for c, _ in chunk], "points": [p for _, p in chunk], "now": now}
    negative = (await conn.execute(_PG_MOVE, params)).first()
    if negative is not None:
        account, after, delta = negative
        raise InsufficientBalance(Account.parse(account), int(after) - int(delta), -int(delta))


async def complete_runs(db: Database, *, progress: Progress | None = None) -> list[str]:
    """Finish every run left ``issued`` (a crash after its commit); the ids finished."""
    async with db.read() as conn:
        pending = [r[0] for r in await conn.execute(select(RUNS.c.run_id).where(RUNS.c.status == "issued"))]
    for rid in pending:
        await complete_run(db, rid, progress=progress)
    return pending


async def get_run(db: Database, rid: str) -> RunRecord:
    async with db.read() as conn:
        run = (await conn.execute(select(RUNS).where(RUNS.c.run_id == rid))).first()
        if run is None:
            raise UnknownRun(f"no certification run {rid!r}")
        serial = (
            await conn.execute(
                select(RANGES.c.serial).where(RANGES.c.run_id == rid, RANGES.c.parent.is_(None))
            )
        ).scalar()
    return RunRecord(**{f: getattr(run, f) for f in RUN_FIELDS}, serial=serial)
