"""The audit log: recording events inside the use case's transaction, reading them, verifying the chain.

``record`` is called by every administrative use case, last, in the transaction that makes the
change: the event commits if and only if the change does. Appends are serialised by a table lock on
PostgreSQL (readers are not blocked) and by SQLite's single writer; ``seq`` being the primary key
means two appenders can never both extend the same row. See docs/audit.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.db import Database, Tx
from backend.models import AuditRecord
from points_engine.audit import (
    GENESIS,
    AuditEvent,
    ChainedEvent,
    ChainVerifier,
    VerifyReport,
    chain,
)

__all__ = ["ChainedEvent", "VerifyReport", "page", "record", "verify"]

VERIFY_CHUNK = 1000
_COLUMNS = (
    AuditRecord.seq,
    AuditRecord.at,
    AuditRecord.actor,
    AuditRecord.action,
    AuditRecord.subject,
    AuditRecord.details,
    AuditRecord.prev_hash,
    AuditRecord.hash,
)


async def record(tx: Tx, actor: str, action: str, subject: str, details: dict[str, Any]) -> ChainedEvent:
    """Append one event at ``tx.started_at``, chained after the last one, in ``tx``.

    Call it last in the use case: on PostgreSQL it holds the log's append lock until the commit.
    Never put a secret in ``details`` (key ids yes, secrets no)."""
    if tx.conn.dialect.name == "postgresql":
        # EXCLUSIVE: one appender at a time, readers (ACCESS SHARE) unaffected. In READ COMMITTED
        # the SELECT below takes its snapshot after the lock, so it sees the previous appender's row.
        await tx.conn.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    last = (
        await tx.conn.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)  # type: ignore[attr-defined]
        )
    ).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    row = chain(prev_hash, AuditEvent(seq, tx.started_at, actor, action, subject, details))
    await tx.conn.execute(
        AuditRecord.__table__.insert().values(  # type: ignore[attr-defined]
            seq=seq,
            at=row.event.at,
            actor=actor,
            action=action,
            subject=subject,
            details=details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
    )
    return row


async def page(db: Database, after_seq: int = 0, limit: int = 100) -> list[ChainedEvent]:
    """Up to ``limit`` events after ``after_seq``, in seq order (a cursor: pass the last seq back)."""
    async with db.read() as conn:
        return await _chunk(conn, after_seq, limit)


async def verify(
    db: Database, *, anchors: Mapping[int, str] | None = None, chunk: int = VERIFY_CHUNK
) -> VerifyReport:
    """Recompute the whole chain from GENESIS, streamed in chunks of ``chunk`` rows (flat memory)."""
    verifier = ChainVerifier(anchors=anchors)
    async for row in _stream(db, chunk):
        verifier.feed(row)
    return verifier.report()


async def _stream(db: Database, chunk: int) -> AsyncIterator[ChainedEvent]:
    # Keyset pages on the primary key: each query is cheap however long the log, and rows appended
    # while we read are simply verified too.
    after: int | None = None
    async with db.read() as conn:
        while True:
            rows = await _chunk(conn, after, chunk)
            for row in rows:
                yield row
            if len(rows) < chunk:
                return
            after = rows[-1].event.seq


async def _chunk(conn: AsyncConnection, after_seq: int | None, limit: int) -> list[ChainedEvent]:
    query = select(*_COLUMNS).order_by(AuditRecord.seq).limit(limit)  # type: ignore[arg-type]
    if after_seq is not None:
        query = query.where(AuditRecord.seq > after_seq)  # type: ignore[arg-type]
    return [
        ChainedEvent(AuditEvent(r.seq, r.at, r.actor, r.action, r.subject, r.details), r.prev_hash, r.hash)
        for r in await conn.execute(query)
    ]
