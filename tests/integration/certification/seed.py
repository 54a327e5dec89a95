"""Settled outcomes written straight to the database (with their settle postings), so that
certification is tested on exactly the actions a test chooses, in any volume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from backend.context import Platform
from backend.ledger_store import post
from backend.models import SettledOutcome, SettlementPartition
from backend.settlement.partitions import partition_of
from backend.settlement.repository import ensure_partitions
from points_engine.certification import leaf_hash, leaf_record, root_of_hashes
from points_engine.ledger import settle_tx

OUTCOMES = SettledOutcome.__table__  # type: ignore[attr-defined]
PARTITIONS = SettlementPartition.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Seeded:
    partner_id: str
    event_id: str
    citizen_id: str
    occurred_at: datetime
    reduction_g: int
    points: int
    book: str = "shantou"
    status: str = "credited"
    flagged: bool = False
    type: str = "trip"
    methodology: str = "trip.bus@2026.1"

    @property
    def eligible(self) -> bool:
        return self.status in ("credited", "capped") and self.reduction_g > 0 and not self.flagged

    def leaf(self) -> bytes:
        return leaf_record(
            book=self.book,  # type: ignore[arg-type]
            citizen_id=self.citizen_id,
            event_id=self.event_id,
            methodology=self.methodology,
            occurred_at=self.occurred_at,
            partner_id=self.partner_id,
            reduction_g=self.reduction_g,
        )


async def seed(platform: Platform, items: Sequence[Seeded]) -> None:
    """Write ``items`` as the settlement workers would: each in its citizen's partition, with the
    next seqs of that partition, and their settle transactions."""
    parts = platform.settings.settle_partitions
    async with platform.db.transaction() as tx:
        await ensure_partitions(tx.conn, parts)
        seqs = dict(
            (await tx.conn.execute(select(PARTITIONS.c.partition, PARTITIONS.c.seq))).all()  # type: ignore[arg-type]
        )
        rows = []
        for item in items:
            p = partition_of(item.citizen_id, parts)
            seqs[p] += 1
            rows.append(
                {
                    "partner_id": item.partner_id,
                    "event_id": item.event_id,
                    "citizen_id": item.citizen_id,
                    "type": item.type,
                    "occurred_at": item.occurred_at,
                    "status": item.status,
                    "reduction_g": item.reduction_g,
                    "points": item.points,
                    "reasons": "repetition-review" if item.flagged else "",
                    "flagged": item.flagged,
                    "methodology": item.methodology,
                    "book": item.book,
                    "partition": p,
                    "seq": seqs[p],
                    "settled_at": tx.started_at,
                }
            )
        await tx.conn.execute(OUTCOMES.insert(), rows)
        for p, s in seqs.items():
            await tx.conn.execute(update(PARTITIONS).where(PARTITIONS.c.partition == p).values(seq=s))
        txs = [
            settle_tx(i.book, i.citizen_id, f"{i.partner_id}/{i.event_id}", i.points)  # type: ignore[arg-type]
            for i in items
            if i.points > 0
        ]
        await post(tx.conn, txs, tx.started_at)


def expected_root(items: Sequence[Seeded]) -> tuple[str, int]:
    """The run's root as anyone would compute it from the binding format alone."""
    chosen = sorted((i for i in items if i.eligible), key=lambda i: (i.partner_id, i.event_id))
    root, size = root_of_hashes(leaf_hash(i.leaf()) for i in chosen)
    return root.hex(), size


async def balance(platform: Platform, account: str) -> int:
    from backend.models import LedgerBalance

    async with platform.db.read() as conn:
        value = (
            await conn.execute(
                select(func.coalesce(func.sum(LedgerBalance.balance), 0)).where(
                    LedgerBalance.account == account
                )
            )
        ).scalar_one()
    return int(value)
