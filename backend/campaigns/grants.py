"""Granting campaign bonuses on settled actions (docs/campaigns.md).

Per campaign, per settlement partition, a watermark says up to which ``seq`` the campaign has
looked at the outcomes. A batch, one transaction under a lock on the campaign's row, reads the
candidate outcomes above the watermarks up to each partition's committed seq (seqs are reserved
under the partition's lease in the transaction that writes the outcomes, so none appears below
one later), grants them in settlement order through ``points_engine.campaigns.grant_all``, and
writes the grant rows, their ledger transactions, the campaign's budget and the new watermarks
together: a crash leaves either all of it or none. Each outcome is looked at once; a bonus
already granted is never granted again (the grant row's key, and the ledger's tx_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, case, literal, select, update

from backend.campaigns.store import CAMPAIGNS, GRANTS, WATERMARKS, budget_of, campaign_of, closes_at, lock
from backend.certification.members import ELIGIBLE_STATUSES
from backend.context import Platform
from backend.db import Tx
from backend.ledger_store import post
from backend.models import SettlementPartition
from backend.settlement.repository import ACTIONS, OUTCOMES, copy_rows, dialect_insert
from points_engine.campaigns import KIND_FIELD, ActionFacts, Campaign, bonus_for
from points_engine.campaigns import grant_all as decide_grants
from points_engine.ledger import bonus_tx
from points_engine.regions import BOOKS, book_of

log = logging.getLogger(__name__)
PARTITIONS: Table = SettlementPartition.__table__  # type: ignore[assignment]
BATCH = 1000  # outcomes of each partition looked at in one transaction
GRANT_COLUMNS = ("campaign_id", "partner_id", "event_id", "citizen_id", "points", "granted_at")
KEYS_PER_QUERY = 2000  # bound parameters stay far below SQLite's limit


@dataclass(frozen=True, slots=True)
class Candidate:
    partition: int
    seq: int
    settled_at: datetime
    partner_id: str
    event_id: str
    citizen_id: str
    facts: ActionFacts

    @property
    def key(self) -> tuple[str, str]:
        return self.partner_id, self.event_id

    @property
    def order(self) -> tuple[datetime, int, int]:
        """Settlement order across partitions: the budget goes to whoever settled first."""
        return self.settled_at, self.partition, self.seq


@dataclass(frozen=True, slots=True)
class Step:
    points: int  # granted by this batch
    more: bool  # outcomes are left for another batch


async def run_campaign_grants(platform: Platform, stop: asyncio.Event) -> None:
    """Every ``campaign_interval_s`` (0: never), grant what settled since the last pass. Every
    worker runs it; a campaign being granted by one is skipped by the others."""
    interval = platform.settings.campaign_interval_s
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            await grant_due(platform)
        except Exception:
            log.exception("campaign grants failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def grant_due(platform: Platform, *, now: datetime | None = None, batch: int = BATCH) -> int:
    """Grant every active campaign its bonuses on the outcomes it has not looked at; the points granted."""
    async with platform.db.read() as conn:
        active = list(
            (
                await conn.execute(select(CAMPAIGNS.c.campaign_id).where(CAMPAIGNS.c.status == "active"))
            ).scalars()
        )
    total = 0
    for campaign_id in sorted(active):
        total += await grant_campaign(platform, campaign_id, now=now, batch=batch)
    return total


async def grant_campaign(
    platform: Platform, campaign_id: str, *, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Batches until the campaign has looked at everything committed, run out, or is busy elsewhere."""
    total = 0
    more = True
    while more:

        async def use_case(tx: Tx) -> Step:
            return await _grant_batch(platform, tx, campaign_id, now or tx.started_at, batch)

        step: Step = await platform.db.run(use_case)
        total += step.points
        more = step.more
    return total


async def skip_settled(tx: Tx, campaign_id: str) -> None:
    """Start the campaign's watermarks at what has settled so far (for a window that begins later)."""
    p = PARTITIONS.c
    await tx.conn.execute(
        WATERMARKS.insert().from_select(
            ["campaign_id", "partition", "seq"],
            select(literal(campaign_id), p.partition, p.seq),
        )
    )


async def _grant_batch(platform: Platform, tx: Tx, campaign_id: str, now: datetime, batch: int) -> Step:
    row = await lock(tx.conn, campaign_id, skip_locked=True)
    if row is None or row.status != "active":
        return Step(0, False)
    campaign = campaign_of(row)
    if tx.conn.dialect.name == "postgresql":
        # The driver prepares a statement run often; a generic plan cannot see how narrow the seq
        # range is and joins by scanning whole tables (measured: seconds instead of milliseconds).
        await tx.conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    marks = await _watermarks(tx, campaign_id)
    committed = dict((await tx.conn.execute(select(PARTITIONS.c.partition, PARTITIONS.c.seq))).all())
    streams: list[list[Candidate]] = []
    reached: dict[int, int] = {}  # partition -> seq looked at up to, unless the budget ran out first
    more = False
    for partition, top in sorted(committed.items()):
        low = marks.get(partition, 0)
        if top <= low:
            continue
        high = reached[partition] = min(int(top), low + batch)
        more = more or high < top
        streams.append(await _candidates(tx, campaign, partition, low, high))
    ordered = list(heapq.merge(*streams, key=lambda c: c.order))
    before = await _granted_before(tx, campaign, ordered)
    result = decide_grants(campaign, budget_of(row), ((c, c.facts) for c in ordered if c.key not in before))
    for c in ordered[_looked_at(ordered, before, result.consumed) :]:  # a refund resumes there
        reached[c.partition] = min(reached[c.partition], c.seq - 1)
    more = more and not result.budget.exhausted
    await _record(tx, campaign_id, result.granted, now)
    status = "exhausted" if result.budget.exhausted else "active"
    ended = status == "active" and not more and now >= closes_at(campaign.ends_at, platform.settings)
    await tx.conn.execute(
        update(CAMPAIGNS)
        .where(CAMPAIGNS.c.campaign_id == campaign_id)
        .values(
            granted_points=result.budget.granted_points,
            status="ended" if ended else status,
            ended_at=now if ended else None,
        )
    )
    await _advance(tx, campaign_id, {p: s for p, s in reached.items() if s > marks.get(p, 0)})
    return Step(sum(points for _, points in result.granted), more)


def _looked_at(ordered: Sequence[Candidate], before: set[tuple[str, str]], consumed: int) -> int:
    """How many of ``ordered`` the grants covered: ``consumed`` of those not granted before, and those
    granted before among them (only after a watermark was lost: looked at, not granted twice)."""
    fresh = 0
    for n, c in enumerate(ordered):
        if c.key not in before:
            if fresh == consumed:
                return n
            fresh += 1
    return len(ordered)


async def _granted_before(
    tx: Tx, campaign: Campaign, candidates: Sequence[Candidate]
) -> set[tuple[str, str]]:
    """Of the candidates that would earn a bonus, those the campaign has granted already."""
    keys = {c.key for c in candidates if bonus_for(campaign, c.facts) > 0}
    found: set[tuple[str, str]] = set()
    g = GRANTS.c
    ordered = sorted(keys)
    for i in range(0, len(ordered), KEYS_PER_QUERY):
        chunk = ordered[i : i + KEYS_PER_QUERY]
        rows = await tx.conn.execute(
            select(g.partner_id, g.event_id).where(
                g.campaign_id == campaign.campaign_id,
                g.partner_id.in_(sorted({p for p, _ in chunk})),
                g.event_id.in_([e for _, e in chunk]),
            )
        )
        found.update((p, e) for p, e in rows)
    return found & keys


async def _watermarks(tx: Tx, campaign_id: str) -> dict[int, int]:
    w = WATERMARKS.c
    rows = await tx.conn.execute(select(w.partition, w.seq).where(w.campaign_id == campaign_id))
    return {int(p): int(s) for p, s in rows}


def _key(tx: Tx, column: Any) -> Any:
    """An outcome's key column, comparable with another table's key through that table's index:
    on PostgreSQL the outcomes' keys are COLLATE "C" (migration 0004), the others' the default."""
    return column.collate("default") if tx.conn.dialect.name == "postgresql" else column


async def _candidates(tx: Tx, campaign: Campaign, partition: int, low: int, high: int) -> list[Candidate]:
    """The outcomes of the partition with seq in (low, high] that may earn the campaign's bonus, in
    seq order; ``points_engine.campaigns`` decides which do."""
    o, a = OUTCOMES.c, ACTIONS.c
    partner_id, event_id = _key(tx, o.partner_id), _key(tx, o.event_id)
    books = sorted({book_of(r) for r in campaign.regions}) if campaign.regions else list(BOOKS)
    columns = (o.partition, o.seq, o.settled_at, o.partner_id, o.event_id, o.citizen_id, o.type)
    # The kind (trip mode, waste category, meal) read from the reported data: not the whole document.
    kind = case(*((o.type == t, a.data[field].as_string()) for t, field in KIND_FIELD.items())).label("kind")
    facts = (o.occurred_at, o.status, o.flagged, o.points, a.region, kind)
    query = (
        select(*columns, *facts)
        .join_from(OUTCOMES, ACTIONS, and_(a.partner_id == partner_id, a.event_id == event_id))
        .where(
            o.partition == partition,
            o.seq > low,
            o.seq <= high,
            o.book.in_(books),
            o.type.in_(sorted({s.type for s in campaign.applies_to})),
            o.occurred_at >= campaign.starts_at,
            o.occurred_at < campaign.ends_at,
            o.status.in_(ELIGIBLE_STATUSES),
            o.flagged.is_(False),
        )
        .order_by(o.seq)
    )
    if campaign.regions:
        query = query.where(a.region.in_(campaign.regions))
    return [_candidate(r) for r in await tx.conn.execute(query)]


def _candidate(r: Any) -> Candidate:
    facts = ActionFacts(
        type=r.type,
        kind=r.kind,
        region=r.region,
        occurred_at=r.occurred_at,
        status=r.status,
        flagged=bool(r.flagged),
        points=int(r.points),
    )
    return Candidate(
        partition=int(r.partition),
        seq=int(r.seq),
        settled_at=r.settled_at,
        partner_id=r.partner_id,
        event_id=r.event_id,
        citizen_id=r.citizen_id,
        facts=facts,
    )


async def _record(tx: Tx, campaign_id: str, granted: Sequence[tuple[Candidate, int]], now: datetime) -> None:
    """The grant rows and their ledger transactions: campaign:{id} → the citizen's available points."""
    if not granted:
        return
    rows = [(campaign_id, c.partner_id, c.event_id, c.citizen_id, points, now) for c, points in granted]
    if tx.conn.dialect.name == "postgresql":
        await copy_rows(tx.conn, "campaign_grants", GRANT_COLUMNS, rows)
    else:
        await tx.conn.execute(GRANTS.insert(), [dict(zip(GRANT_COLUMNS, r, strict=True)) for r in rows])
    txs = [
        bonus_tx(campaign_id, c.citizen_id, f"{c.partner_id}/{c.event_id}", points) for c, points in granted
    ]
    await post(tx.conn, txs, now)


async def _advance(tx: Tx, campaign_id: str, marks: dict[int, int]) -> None:
    if not marks:
        return
    rows = [{"campaign_id": campaign_id, "partition": p, "seq": s} for p, s in sorted(marks.items())]
    stmt = dialect_insert(tx.conn, WATERMARKS)
    await tx.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["campaign_id", "partition"], set_={"seq": stmt.excluded.seq}
        ),
        rows,
    )
