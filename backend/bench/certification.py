"""The certification phase of `tanhui bench` (`--certify-actions N`, alone with `--certify-only`).

N settled outcomes of one past month are made by PostgreSQL (backend.bench.certify_data) in a
database of the phase's own, then one run over them is issued by the platform's own use case,
``backend.certification.runs.certify``, in this process: its seconds (the issue transaction, of
which hashing, and the points moves), actions/s, this process's RSS before, during and after, and
checks of what it issued against the outcomes. The generated month is kept as a template database
(`tanhui_bench_cert_<period>_<key>`, one at a time: they are large) unless `--no-cache`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from backend.bench import certify_data
from backend.bench.certify_data import BOOK, Expected
from backend.bench.database import BenchDatabase
from backend.bench.processes import _status_mb
from backend.bench.stats import memory_growth
from backend.bench.ui import progress
from backend.certification.runs import RunRecord, certify
from backend.db import Database
from backend.migrate import MIGRATIONS
from points_engine.certification import CHUNK, GRAMS_PER_TONNE, Period, leaf_hash, leaf_record, root_of_hashes

TEMPLATE_PREFIX = "tanhui_bench_cert_"
ROOT_CHECK_MAX = 200_000  # up to this many actions the root is recomputed in pure Python
TARGET_ACTIONS = 10_000_000
TARGET_SECONDS = 60.0
MILESTONES = (25, 50, 75, 100)  # % of each phase at which the RSS is read


def measure(
    db: BenchDatabase, actions: int, seed: int, partitions: int, cache: bool, console: Console
) -> dict[str, Any]:
    """Make the month's outcomes in ``db`` (created here), certify them, check the run; the figures."""
    period = Period.containing(datetime.now(UTC)).previous()
    made = _prepare(db, actions, period, seed, partitions, cache, console)
    with db.connect() as conn:
        want = certify_data.expected(conn, period)
    console.print(f"certifying {want.actions:,} of {actions:,} actions of {BOOK} {period} in {db.where}")
    run, timing, memory = _certify(db.url, period, want.actions, console)
    with db.connect() as conn:
        checks = _checks(conn, run, want, actions)
    seconds = timing["seconds"]
    return {
        "database": db.where,
        "period": str(period),
        "generated": made,
        "run_id": run.run_id,
        "actions": run.tree_size,
        "chunks": math.ceil(run.tree_size / CHUNK),
        "tonnes": run.tonnes,
        "reduction_g": run.reduction_g,
        "carry_out_g": run.carry_out_g,
        "points": run.points,
        "root": run.root,
        **timing,
        "actions_per_s": round(run.tree_size / seconds, 1) if seconds else None,
        "memory": memory,
        "checks": checks,
    }


def target(section: dict[str, Any] | None) -> dict[str, Any]:
    """A run over 10 million actions in under 60 s: judged on runs of a million actions or more."""
    section = section or {}
    rate, actions = section.get("actions_per_s"), section.get("actions") or 0
    need = TARGET_ACTIONS / TARGET_SECONDS
    return {
        "target": f"{TARGET_ACTIONS:,} actions in < {TARGET_SECONDS:g} s (>= {need:,.0f} actions/s)",
        "value": rate,
        "met": None if rate is None or actions < 1_000_000 else rate >= need,
    }


def _prepare(
    db: BenchDatabase, actions: int, period: Period, seed: int, parts: int, cache: bool, console: Console
) -> dict[str, Any]:
    """Create ``db`` with the month's outcomes: a copy of the template for this shape if there is
    one, else generated (into a new template first, when caching)."""
    template = db.sibling(
        f"{TEMPLATE_PREFIX}{period.year:04d}{period.month:02d}_{_key(actions, seed, parts)}"
    )
    if cache and template.exists():
        began = time.monotonic()
        with console.status(f"copying {template.name}"):
            db.create(template=template)
        return {"from_template": template.name, "copy_seconds": round(time.monotonic() - began, 1)}
    target = template if cache else db
    if cache:
        _drop_templates(db)
    target.create()
    with console.status(f"generating {actions:,} settled outcomes (set-based SQL)"), target.connect() as conn:
        made = certify_data.generate(conn, actions, period, parts, seed)
    summary = {"from_template": None, "citizens": made.citizens, "generate_seconds": round(made.seconds, 1)}
    if cache:
        db.create(template=template)
    return summary


def _key(actions: int, seed: int, parts: int) -> str:
    """What the generated outcomes depend on: the shape, the generator and the schema."""
    digest = hashlib.sha256(f"{actions}:{seed}:{parts}".encode())
    digest.update(Path(certify_data.__file__).read_bytes())
    for migration in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(migration.read_bytes())
    return digest.hexdigest()[:12]


def _drop_templates(db: BenchDatabase) -> None:
    with db.sibling("postgres").connect() as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (TEMPLATE_PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
    for (name,) in names:
        db.sibling(name).drop()


class _Watch:
    """certify()'s progress: the bars, when each phase began and ended, the RSS at milestones."""

    def __init__(self, bar: Progress, actions: int) -> None:
        self.bar, self.began = bar, time.monotonic()
        self.tasks: dict[str, TaskID] = {
            "hash": bar.add_task("certify: leaves", total=actions, note="issue transaction"),
            "points": bar.add_task("certify: points", total=None, note="pending → available"),
        }
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.rss: dict[str, float | None] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic() - self.began
        self.first.setdefault(phase, now)
        self.last[phase] = now
        if phase in self.tasks:
            self.bar.update(self.tasks[phase], completed=done, total=total)
        for share in MILESTONES:
            mark = f"{phase}_{share}%"
            if mark not in self.rss and total and done * 100 >= share * total:
                self.rss[mark] = _rss("VmRSS")


def _certify(
    url: str, period: Period, actions: int, console: Console
) -> tuple[RunRecord, dict[str, Any], dict[str, Any]]:
    """certify() in this process, timed by phase, with its RSS."""
    before = _rss("VmRSS")
    _reset_peak()
    with progress(console) as bar:
        watch = _Watch(bar, actions)
        run = asyncio.run(_run(url, period, watch))
        seconds = time.monotonic() - watch.began
    moved_at = watch.first.get("points", seconds)
    timing = {
        "seconds": round(seconds, 2),
        "issue_seconds": round(moved_at, 2),
        "hash_seconds": _span(watch, "hash"),
        "points_seconds": round(seconds - moved_at, 2),
    }
    memory = {
        "rss_before_mb": before,
        "peak_rss_mb": _rss("VmHWM"),
        "rss_after_mb": _rss("VmRSS"),
        "rss_mb": watch.rss,
        "growth": memory_growth(watch.rss, "hash_25%", "hash_100%", round(0.75 * actions)),
    }
    return run, timing, memory


async def _run(url: str, period: Period, on_progress: Callable[[str, int, int], None]) -> RunRecord:
    database = Database(url)
    try:
        return await certify(database, BOOK, str(period), actor="bench", progress=on_progress)
    finally:
        await database.dispose()


def _span(watch: _Watch, phase: str) -> float | None:
    if phase not in watch.first:
        return None
    return round(watch.last[phase] - watch.first[phase], 2)


def _rss(field: str) -> float | None:
    return _status_mb(os.getpid(), field)


def _reset_peak() -> None:
    """Restart VmHWM at the current RSS (Linux: clear_refs 5), so the peak is this run's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _checks(conn: Any, run: RunRecord, want: Expected, generated: int) -> dict[str, Any]:
    """What the run issued against the outcomes, counted apart from the code that issued it."""
    moved = conn.execute(
        "SELECT coalesce(sum(balance) FILTER (WHERE account LIKE 'citizen:%%:available'), 0), "
        "coalesce(sum(balance) FILTER (WHERE account LIKE 'citizen:%%:pending'), 0) FROM ledger_balances"
    ).fetchone()
    checks: dict[str, Any] = {
        "tree_size": run.tree_size == want.actions,
        "reduction_g": run.reduction_g == want.reduction_g,
        "tonnes": run.tonnes * GRAMS_PER_TONNE + run.carry_out_g == run.carry_in_g + want.reduction_g,
        "points_available": int(moved[0]) == run.points == want.points,
        "points_still_pending": int(moved[1]) == want.all_points - want.points,
        "root": _root_check(conn, run) if generated <= ROOT_CHECK_MAX else None,
        "status": run.status == "complete",
    }
    checks["ok"] = all(v is not False for v in checks.values())
    return checks


def _root_check(conn: Any, run: RunRecord) -> bool:
    """The root recomputed from the outcomes by the binding leaf format alone (pure Python)."""
    period = Period.parse(run.period)
    rows = conn.execute(
        "SELECT book, citizen_id, event_id, methodology, occurred_at, partner_id, reduction_g FROM outcomes "
        "WHERE book = %s AND occurred_at >= %s AND occurred_at < %s AND NOT flagged "
        "AND status IN ('credited', 'capped') AND reduction_g > 0",
        (run.book, period.start, period.end),
    ).fetchall()
    rows.sort(key=lambda r: (r[5], r[2]))
    fields = ("book", "citizen_id", "event_id", "methodology", "occurred_at", "partner_id", "reduction_g")
    hashes = (leaf_hash(leaf_record(**dict(zip(fields, r, strict=True)))) for r in rows)
    return root_of_hashes(hashes)[0].hex() == run.root
