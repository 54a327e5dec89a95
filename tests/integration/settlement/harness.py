"""What the crash and Redis-loss tests share: synthetic traffic that exercises every rule, worker
processes, and the reconciliation of what the database holds against the pure engine."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from backend.context import Platform
from backend.models import LedgerBalance, LedgerTransaction, SettledOutcome
from backend.partner_api import repository as intake_repo
from backend.settings import Settings
from backend.settlement import repository as repo
from backend.settlement.publisher import publish
from points_engine.actions import Action, ActionBody, CleanPlate, Trip, WasteSorting
from points_engine.intake import canonical_content, content_hash
from points_engine.methodologies import default_catalog
from points_engine.records import Accepted
from points_engine.regions import book_of
from points_engine.rules import Outcome, Policy
from points_engine.settlement import settle

PARTNERS = ("transit_st", "bike_st", "waste_st", "canteen_st")
REGIONS = ("440507", "440511", "440513", "440515", "440523")


def traffic(count: int, citizens: int, seed: int = 7) -> list[Accepted]:
    """``count`` actions of ``citizens`` citizens over three days: dense enough that overlaps,
    every cap, repetition flags and implausible trips all occur."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    items = []
    for n in range(count):
        citizen = f"c_crash{rng.randrange(citizens):05d}"
        at = start + timedelta(seconds=rng.randrange(3 * 86400))
        kind = rng.random()
        if kind < 0.7:
            mode = rng.choice(("bus", "metro", "bike", "walk", "ev_car"))
            data: Any = Trip(
                mode, rng.choice((800, 2400, 5200, rng.randrange(300, 40_000))), rng.randrange(30, 3600)
            )
            partner, type_ = ("bike_st" if mode == "bike" else "transit_st"), "trip"
        elif kind < 0.9:
            category = rng.choice(("recyclable", "kitchen", "hazardous", "other"))
            material = rng.choice(("paper", "plastic", "metal", None)) if category == "recyclable" else None
            data = WasteSorting(category, rng.choice((500, 1200, rng.randrange(50, 9000))), "st_1", material)
            partner, type_ = "waste_st", "waste_sorting"
        else:
            data = CleanPlate("canteen_1", rng.choice(("breakfast", "lunch", "dinner")), "staff")
            partner, type_ = "canteen_st", "clean_plate"
        body = ActionBody(type_, at, rng.choice(REGIONS), data)  # type: ignore[arg-type]
        items.append(Accepted(citizen, Action(partner, f"ev-{seed}-{n:07d}", f"u_{citizen}", body)))
    return items


async def accept(platform: Platform, items: Sequence[Accepted], chunk: int = 1000) -> None:
    """What intake does for each batch: commit the actions, then publish them."""
    for i in range(0, len(items), chunk):
        part = items[i : i + chunk]
        by_partner: dict[str, list[Accepted]] = defaultdict(list)
        for item in part:
            by_partner[item.action.partner_id].append(item)
        async with platform.db.transaction() as tx:
            for partner_rows in by_partner.values():
                rows = [_row(item, tx.started_at) for item in partner_rows]
                await intake_repo.insert_new_actions(tx.conn, rows)
        await publish(platform.hot, platform.keys, platform.settings.settle_partitions, part)


def _row(item: Accepted, now: datetime) -> dict[str, Any]:
    a = item.action
    return {
        "partner_id": a.partner_id,
        "event_id": a.event_id,
        "citizen_id": item.citizen_id,
        "user": a.user,
        "type": a.type,
        "occurred_at": a.occurred_at,
        "region": a.region,
        "book": book_of(a.region),
        "data": canonical_content(a)["data"],
        "content_hash": content_hash(a),
        "received_at": now,
    }


def spawn_worker(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    """``tanhui worker`` as a real process on the test's database and Redis; its log is appended
    to ``<var_dir>/workers.log`` (see ``worker_log``)."""
    environ = {
        **os.environ,
        "TANHUI_DATABASE_URL": settings.effective_database_url,
        "TANHUI_REDIS_URL": settings.redis_url,
        "TANHUI_REDIS_PREFIX": settings.redis_prefix,
        "TANHUI_VAR_DIR": str(settings.var_dir),
        "TANHUI_SECRET_KEY": settings.secret_key,
        "TANHUI_PII_KEY": settings.pii_key,
        "TANHUI_JWT_KEY": settings.jwt_key,
        "TANHUI_SETTLE_PARTITIONS": str(settings.settle_partitions),
        # These tests reconcile settlement alone: no scheduled certification, expiry or sweeping
        # moving points meanwhile.
        "TANHUI_CERTIFY_INTERVAL_S": "0",
        "TANHUI_EXPIRY_INTERVAL_S": "0",
        "TANHUI_RESERVATION_SWEEP_INTERVAL_S": "0",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "backend", "worker"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=(settings.var_dir / "workers.log").open("ab"),
    )


def worker_log(settings: Settings, lines: int = 60) -> str:
    """The end of the workers' log, for a failing test's message."""
    path = settings.var_dir / "workers.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def reference(items: Sequence[Accepted]) -> dict[tuple[str, str], Outcome]:
    """The outcomes the pure engine gives for ``items`` settled in this order."""
    settled, _ = settle(items, {}, default_catalog(), Policy.default())
    return {s.accepted.key: s.outcome for s in settled}


async def stored(platform: Platform) -> dict[tuple[str, str], tuple[str, int, Outcome]]:
    """Every stored outcome: (citizen, seq, outcome) by (partner_id, event_id)."""
    async with platform.db.read() as conn:
        rows = await conn.execute(select(SettledOutcome))
        return {(r.partner_id, r.event_id): (r.citizen_id, r.seq, repo.outcome_of(r)) for r in rows}


async def assert_contiguous_sequences(platform: Platform, total: int) -> None:
    """``total`` outcomes, and per partition its reserved sequence numbers, its outcomes, their
    distinct seqs and the highest seq + 1 all equal: the seqs are 0..n-1 without a gap or a repeat.
    Every outcome is written in the transaction that reserved its number (what the bench's wait sums)."""
    o, p = repo.OUTCOMES.c, repo.PARTITIONS.c
    async with platform.db.read() as conn:
        reserved = dict((await conn.execute(select(p.partition, p.seq))).all())
        written = (
            await conn.execute(
                select(o.partition, func.count(), func.count(o.seq.distinct()), func.max(o.seq) + 1).group_by(
                    o.partition
                )
            )
        ).all()
    found = {int(row[0]): tuple(int(v) for v in row[1:]) for row in written}
    by_partition = {
        partition: (int(seq), *found.get(partition, (0, 0, 0)))  # type: ignore[misc]
        for partition, seq in reserved.items()
    }
    assert sum(n for n, *_ in by_partition.values()) == total, by_partition
    assert {partition: (n,) * 4 for partition, (n, *_) in by_partition.items()} == by_partition


def replays_identically(
    items: Sequence[Accepted], outcomes: dict[tuple[str, str], tuple[str, int, Outcome]]
) -> list[str]:
    """Deciding each citizen's actions again, in the order they were settled, from an empty state
    must give every stored outcome: the stored decisions are the engine's, whatever the order was.
    The disagreements (empty when all agree)."""
    by_key = {i.key: i for i in items}
    per_citizen: dict[str, list[tuple[int, Accepted, Outcome]]] = defaultdict(list)
    for key, (citizen, seq, outcome) in outcomes.items():
        per_citizen[citizen].append((seq, by_key[key], outcome))
    catalog, policy = default_catalog(), Policy.default()
    problems = []
    for citizen, rows in per_citizen.items():
        settled, _ = settle([a for _, a, _ in sorted(rows, key=lambda r: r[0])], {}, catalog, policy)
        for s, (_, _, outcome) in zip(settled, sorted(rows, key=lambda r: r[0]), strict=True):
            if s.outcome != outcome:
                problems.append(f"{citizen} {s.accepted.key}: stored {outcome}, engine {s.outcome}")
    return problems


async def ledger_totals(platform: Platform) -> dict[str, int]:
    async with platform.db.read() as conn:
        balances = list(await conn.execute(select(LedgerBalance.account, LedgerBalance.balance)))
        txs = (
            await conn.execute(select(func.count(), func.coalesce(func.sum(LedgerTransaction.amount), 0)))
        ).one()
        points = (await conn.execute(select(func.coalesce(func.sum(SettledOutcome.points), 0)))).scalar_one()
    return {
        "sum_of_balances": sum(b for _, b in balances),
        "pending": sum(b for a, b in balances if a.endswith(":pending")),
        "negative_holders": sum(1 for a, b in balances if a.startswith("citizen:") and b < 0),
        "transactions": int(txs[0]),
        "transacted": int(txs[1]),
        "outcome_points": int(points),
    }
