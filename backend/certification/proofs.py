"""The inclusion proof of one certified action (docs/proofs.md): which run covers it, its leaf,
and its RFC 6962 audit path, read from one chunk of 1,024 leaves and the run's chunk roots."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.members import leaf_of, leaves
from backend.certification.runs import CHUNKS, REVIEWS, RUNS, WATERMARKS, scope_of
from backend.db import Database
from backend.errors import ActionNotCertified
from backend.models import SettledOutcome
from points_engine.certification import CHUNK, Period, chunked_audit_path, proof_document, root_of_hashes
from points_engine.errors import InvariantViolation

OUTCOMES: Table = SettledOutcome.__table__  # type: ignore[assignment]


async def proof_for(db: Database, partner_id: str, event_id: str) -> dict[str, Any]:
    """The proof of ``event_id`` of ``partner_id``; ActionNotCertified when no run covers it."""
    async with db.read() as conn:
        run_id = await run_covering(conn, partner_id, event_id)
        if run_id is None:
            raise ActionNotCertified(
                f"no certification run covers event {event_id!r} of partner {partner_id!r}"
            )
        run = (await conn.execute(select(RUNS).where(RUNS.c.run_id == run_id))).one()
        scope = scope_of(run)
        leaf = await leaf_of(conn, scope, partner_id, event_id)
        if leaf is None:
            raise ActionNotCertified(
                f"run {run_id} does not cover event {event_id!r} of partner {partner_id!r}"
            )
        chunks = list(
            await conn.execute(
                select(CHUNKS.c.first_partner_id, CHUNKS.c.first_event_id, CHUNKS.c.size, CHUNKS.c.root)
                .where(CHUNKS.c.run_id == run_id)
                .order_by(CHUNKS.c.chunk)
            )
        )
        chunk = bisect_right([(c[0], c[1]) for c in chunks], (partner_id, event_id)) - 1
        first, size = (chunks[chunk][0], chunks[chunk][1]), chunks[chunk][2]
        block = [leaf async for leaf in leaves(conn, scope, after=first, limit=size)]
    keys = [(b.partner_id, b.event_id) for b in block]
    hashes = [b.hash for b in block]
    if (partner_id, event_id) not in keys or root_of_hashes(hashes)[0].hex() != chunks[chunk][3]:
        raise InvariantViolation(f"run {run_id}: chunk {chunk} no longer matches its stored root")
    index = keys.index((partner_id, event_id))
    path = chunked_audit_path(hashes, index, [bytes.fromhex(c[3]) for c in chunks], chunk)
    return proof_document(
        run_id=run_id,
        book=run.book,
        root=bytes.fromhex(run.root),
        tree_size=run.tree_size,
        leaf_index=chunk * CHUNK + index,
        leaf=leaf,
        audit_path=path,
    )


async def run_covering(conn: AsyncConnection, partner_id: str, event_id: str) -> str | None:
    """The run whose membership includes the action, if any (its approval's run, or the run whose
    watermark window of the action's partition holds the action's seq)."""
    outcome = (
        await conn.execute(
            select(OUTCOMES.c.book, OUTCOMES.c.occurred_at, OUTCOMES.c.partition, OUTCOMES.c.seq).where(
                OUTCOMES.c.partner_id == partner_id, OUTCOMES.c.event_id == event_id
            )
        )
    ).first()
    if outcome is None:
        return None
    reviewed = (
        await conn.execute(
            select(REVIEWS.c.run_id).where(REVIEWS.c.partner_id == partner_id, REVIEWS.c.event_id == event_id)
        )
    ).first()
    if reviewed is not None and reviewed.run_id is not None:
        return str(reviewed.run_id)
    w = WATERMARKS.c
    found = (
        await conn.execute(
            select(w.run_id).where(
                w.book == outcome.book,
                w.period == str(Period.containing(outcome.occurred_at)),
                w.partition == outcome.partition,
                w.from_seq < outcome.seq,
                w.to_seq >= outcome.seq,
            )
        )
    ).first()
    return None if found is None else str(found.run_id)
