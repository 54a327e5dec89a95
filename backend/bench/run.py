"""`tanhui bench` from end to end: a fresh database, the platform as processes, the phases, the JSON."""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from pydantic import ValidationError
from rich.console import Console

from backend.bench import calibrate, certification, corpus, phases, population, processes, redemption
from backend.bench.clients import Target
from backend.bench.corpus import Workload
from backend.bench.cpu import CpuMeter
from backend.bench.database import BenchDatabase, ledger_figures
from backend.bench.errors import BadOptions
from backend.bench.processes import Proc
from backend.bench.stats import memory_growth, reconcile
from backend.bench.ui import progress
from backend.settings import Settings

SCHEMA = "tanhui-bench/1"
TARGET_SETTLED_PER_S = 30_000
TARGET_SINGLE_P99_MS = 25.0
TARGET_SINGLE_RATE = 1_000.0


@dataclass(frozen=True)
class BenchOptions:
    """What `tanhui bench` was asked to do (the CLI options), checked on creation."""

    batches: int = 200
    batch_size: int = 1000
    clients: int = 2
    connections: int = 2  # concurrent batch requests per client process
    rate: float = 1000.0
    single_seconds: float = 20.0
    workers: str = "1"  # K settlement processes (`tanhui worker`), or "inprocess"
    api: int = 1  # `tanhui serve` processes, each on its own port
    settle_timeout: float = 300.0
    keep_db: bool = False
    out: Path | None = None
    seed: int = 1
    cache: bool = True  # reuse generated actions and the bound population (a template database)
    certify_actions: int = 0  # settled actions generated for the certification phase (0: no phase)
    certify_only: bool = False  # the certification phase alone: no platform, no intake
    redeem_seconds: float = 0.0  # seconds of redemptions at redeem_rate (0: no redemption phase)
    redeem_rate: float = 200.0
    redeem_only: bool = False  # the redemption phase alone (on a platform of its own)
    # NAME=VALUE settings of the platform's processes (TANHUI_NAME): the bench passes none of the
    # caller's TANHUI_* on, so that a run is what its options say. E.g. settle_linger_ms=250.
    settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        platform_settings(self.settings)  # raises BadOptions
        if self.certify_actions < 0 or (self.certify_only and self.certify_actions < 1):
            raise BadOptions("--certify-actions must be >= 0, and >= 1 with --certify-only")
        if (
            self.redeem_seconds < 0
            or self.redeem_rate <= 0
            or (self.redeem_only and self.redeem_seconds <= 0)
        ):
            raise BadOptions("--redeem-seconds must be >= 0 (> 0 with --redeem-only), --redeem-rate > 0")
        if self.certify_only and self.redeem_only:
            raise BadOptions("--certify-only and --redeem-only exclude each other")
        if self.batches < 1 or not 1 <= self.batch_size <= 1000:
            raise BadOptions("--batches must be >= 1 and --batch-size within 1..1000")
        if self.clients < 1 or self.connections < 1 or self.api < 1:
            raise BadOptions("--clients, --connections and --api must be >= 1")
        if self.rate <= 0 or self.single_seconds < 0 or self.settle_timeout <= 0:
            raise BadOptions("--rate and --settle-timeout must be > 0, --single-seconds >= 0")
        if self.workers != "inprocess" and not (self.workers.isdigit() and int(self.workers) >= 0):
            raise BadOptions("--workers is a number of worker processes (0 or more) or 'inprocess'")

    @property
    def singles(self) -> int:
        return math.ceil(self.rate * self.single_seconds)


@dataclass
class Run:
    """What one run owns and must clean up, whatever happens."""

    options: BenchOptions
    base: Settings
    db: BenchDatabase
    run_dir: Path
    redis_prefix: str
    procs: list[Proc]
    started: float


def _workers_plan(requested: str) -> tuple[str, int, str | None]:
    """(mode, worker processes, note): in `tanhui serve`, none, or separate `tanhui worker`s."""
    if requested == "inprocess":
        return "inprocess", 0, None
    if int(requested) == 0:
        return "none", 0, "no settlement workers: intake only"
    return "processes", int(requested), None


# What the bench itself sets for its processes, or reads as they are (the partitions it waits for).
_BENCH_SETTINGS = frozenset(
    {"database_url", "redis_url", "redis_prefix", "var_dir", "host", "port", "workers", "settle_partitions",
     "secret_key", "pii_key", "jwt_key"}
)  # fmt: skip


def platform_settings(pairs: Sequence[str]) -> dict[str, str]:
    """The environment for ``--setting NAME=VALUE`` options; BadOptions for a name that is no
    setting, one the bench sets itself, or a value the setting refuses."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower()
        if not sep or name not in Settings.model_fields:
            raise BadOptions(f"--setting {pair!r}: expected NAME=VALUE, NAME one of backend/settings.py")
        if name in _BENCH_SETTINGS:
            raise BadOptions(f"--setting {name}: the bench sets this one itself")
        try:
            Settings.model_validate({name: value})
        except ValidationError as exc:
            raise BadOptions(f"--setting {pair!r}: {exc.errors()[0]['msg']}") from exc
        env[f"TANHUI_{name.upper()}"] = value
    return env


def _start_platform(run: Run, env: dict[str, str], mode: str, workers: int) -> None:
    env = {**env, **platform_settings(run.options.settings)}
    for n in range(run.options.api):
        api_env = {**env, "TANHUI_PORT": str(processes.free_port())}
        api_env["TANHUI_WORKERS"] = "true" if mode == "inprocess" else "false"
        run.procs.append(processes.start(f"api-{n}", "api", ["serve"], api_env, run.run_dir))
    for n in range(workers):
        run.procs.append(processes.start(f"worker-{n}", "worker", ["worker"], env, run.run_dir))


def execute(options: BenchOptions, console: Console) -> dict[str, Any]:
    """Run the benchmark; the result (also written to --out or var/bench/). Cleans up after itself."""
    base = Settings()
    if not base.redis_url and not options.certify_only:
        raise BadOptions("the benchmark needs a Redis server: set TANHUI_REDIS_URL")
    now = datetime.now(UTC)
    db = BenchDatabase.for_run(base.database_url or "sqlite://", now)
    bench_dir = base.var_dir / "bench"
    run_dir = bench_dir / f"run-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{base.redis_prefix}_bench_{secrets.token_hex(3)}"
    run = Run(options, base, db, run_dir, prefix, [], time.monotonic())
    result: dict[str, Any] = _header(run, now)
    try:
        _measure(run, result, bench_dir / "cache", console)
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _teardown(run, result, console)
        result["machine"]["engine_us_per_action_at_end"] = calibrate.engine_us_per_action()
        result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        _write(result, options.out, bench_dir, now)
    return result


def _header(run: Run, now: datetime) -> dict[str, Any]:
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(run.options).items()}
    return {
        "schema": SCHEMA,
        "started_at": now.isoformat(timespec="seconds"),
        "git": processes.git_revision(Path.cwd()),
        "machine": processes.machine(),
        "config": {**config, "database": run.db.where, "redis_prefix": run.redis_prefix},
        "logs": str(run.run_dir),
    }


def _measure(run: Run, result: dict[str, Any], cache_dir: Path, console: Console) -> None:
    if not (run.options.certify_only or run.options.redeem_only):
        workload, target = _setup(run, result, cache_dir if run.options.cache else None, console)
        meter = CpuMeter({p.name: p.pid for p in run.procs}, run.db.name, _redis_port(run.base.redis_url))
        monitor = phases.Monitor(run.procs, run.started, meter)
        result["_monitor"] = monitor
        _phases(run, result, workload, target, monitor, console)
    if run.options.certify_actions:
        _certification(run, result, console)
    if run.options.redeem_seconds:
        _redemption(run, result, console)


def _redemption(run: Run, result: dict[str, Any], console: Console) -> None:
    """The redemption phase, in a database and on a platform process of its own."""
    options = run.options
    db = run.db.sibling(f"{run.db.name}_redeem")
    try:
        result["redemption"] = redemption.measure(
            db, run.base, run.run_dir, f"{run.redis_prefix}_redeem", options.redeem_rate,
            options.redeem_seconds, console, apis=options.api,
        )  # fmt: skip
    finally:
        if not options.keep_db:
            with contextlib.suppress(Exception):  # cleanup must not hide the phase's own error
                db.drop()
            with contextlib.suppress(Exception):
                _clear_redis(run.base.redis_url, f"{run.redis_prefix}_redeem")


def _certification(run: Run, result: dict[str, Any], console: Console) -> None:
    """The certification phase, in a database of its own (the run's, when it is the only phase)."""
    options = run.options
    db = run.db if options.certify_only else run.db.sibling(f"{run.db.name}_cert")
    try:
        result["certification"] = certification.measure(
            db, options.certify_actions, options.seed, run.base.settle_partitions, options.cache, console
        )
    finally:
        if db is not run.db and not options.keep_db:
            with contextlib.suppress(Exception):  # cleanup must not hide the phase's own error
                db.drop()


def _setup(run: Run, result: dict[str, Any], cache: Path | None, console: Console) -> tuple[Workload, Target]:
    """The corpus, the database with its partners and bound users, and the platform, up and ready."""
    options = run.options
    console.print(f"bench database {run.db.where}, logs in {run.run_dir}")
    with progress(console) as bar:
        total = options.batches * options.batch_size + options.singles
        task = bar.add_task("generating actions", total=total, note="simulators")
        workload, made, corpus_key, cached = corpus.build(
            options.batches, options.batch_size, options.singles, options.seed, cache,
            lambda n: bar.advance(task, n),
        )  # fmt: skip
        bar.update(task, completed=total)

    def config(db: BenchDatabase, keys: Mapping[str, str]) -> tuple[Settings, dict[str, str]]:
        return population.platform_config(run.base, db, run.run_dir, run.redis_prefix, keys)

    key = population.population_key(corpus_key, workload, cache)
    people = population.prepare(run.db, workload, key, made.days[0], cache, config, run.run_dir, console)
    mode, workers, note = _workers_plan(options.workers)
    result["workers"] = {"requested": options.workers, "mode": mode, "processes": workers, "note": note}
    result["setup"] = {
        "days": [d.isoformat() for d in made.days],
        "citizens": made.citizens,
        "corpus_cached": cached,
        "corpus_seconds": round(made.seconds, 1),
        "partners": {kind: c.partner_id for kind, c in people.creds.items()},
        "batches_by_partner": _count_by_kind(workload.batches),
        **people.summary,
    }
    _start_platform(run, config(run.db, people.secrets)[1], mode, workers)
    processes.wait_ready(run.procs)
    if mode != "none":
        owners = workers if mode == "processes" else run.options.api  # (each `tanhui serve` settles)
        shares = processes.wait_shared(run.procs, run.db.connect, owners, run.base.settle_partitions)
        result["workers"].update(settle_partitions=run.base.settle_partitions, partitions=shares)
    apis = [p.port for p in run.procs if p.role == "api" and p.port is not None]
    return workload, Target(apis, people.creds)


def _phases(
    run: Run,
    result: dict[str, Any],
    workload: Workload,
    target: Target,
    monitor: phases.Monitor,
    console: Console,
) -> None:
    """Intake, settlement, single actions, then the reconciliation."""
    options, platform, connect = run.options, run.procs, run.db.connect
    monitor.mark("ready")
    intake = phases.drive_batches(target, workload.batches, options.clients, options.connections, platform,
                                  monitor, console)  # fmt: skip
    start_at = intake.pop("_start_at")
    result["intake"] = intake
    settle = phases.wait_settled(connect, intake["accepted"], start_at, options.settle_timeout, platform,
                                 monitor, console)  # fmt: skip
    settle["actions_per_s"] = _per_s(intake["accepted"], settle["seconds"])
    result["settlement"] = settle
    monitor.mark("settled")
    singles = workload.singles[: options.singles]
    single = phases.drive_singles(target, singles, min(options.clients, len(singles)), options.rate,
                                  platform, monitor, console) if singles else None  # fmt: skip
    result["single"] = single
    monitor.mark("singles_done")
    accepted = intake["accepted"] + (single["accepted"] if single else 0)
    rejected = intake["rejected"] + (single["rejected"] if single else 0)
    if settle["settled"] and single:
        result["settlement_after_single"] = phases.wait_settled(
            connect, accepted, time.monotonic(), options.settle_timeout, platform, monitor, console,
            "settlement (all)",
        )  # fmt: skip
    with connect() as conn:
        figures = ledger_figures(conn)
    sent = workload.batch_actions + (single["sent"] if single else 0)
    result["reconcile"] = reconcile(accepted, sent, rejected, figures)


def _redis_port(url: str) -> int:
    return urlsplit(url).port or 6379


def _count_by_kind(batches: list[tuple[str, bytes]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, _ in batches:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _per_s(count: int, seconds: float | None) -> float | None:
    return round(count / seconds, 1) if seconds else None


def _teardown(run: Run, result: dict[str, Any], console: Console) -> None:
    processes.stop(run.procs)
    monitor: phases.Monitor | None = result.pop("_monitor", None)
    between = round((1 - _MEMORY_FROM) * (result.get("intake") or {}).get("accepted", 0))
    result["memory"] = _memory_report(run.procs, monitor, between)
    result["targets"] = _targets(result)
    if run.options.keep_db:
        console.print(f"kept database {run.db.where} and Redis prefix {run.redis_prefix}")
        return
    with contextlib.suppress(Exception):  # cleanup must not hide the run's own error
        run.db.drop()
    if not run.options.certify_only:
        with contextlib.suppress(Exception):
            _clear_redis(run.base.redis_url, run.redis_prefix)


def _clear_redis(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


# Memory is judged over the second half of the batches. The first warms what is bounded but large:
# the worker's rules states (≤ 1,024 a partition, ~2.3 KB each) and its batches in flight (≤
# settle_batch actions a partition). A 300-batch run's worker grew 114 → 177 MB over the first half
# and 177 → 186 MB over the second, and peaked at 189 MB against 178–181 MB for 100 batches; a
# leak of 1 KB an action would add ~50 MB over the second half of 100 batches.
_MEMORY_FROM = 0.5


def _memory_report(procs: list[Proc], memory: phases.Monitor | None, actions: int) -> dict[str, Any]:
    per_proc: dict[str, Any] = {}
    for proc in procs:
        marks = memory.milestones.get(proc.name, {}) if memory else {}
        per_proc[proc.name] = {
            "role": proc.role,
            "pid": proc.pid,
            "peak_rss_mb": proc.peak_rss_mb,
            "rss_mb": marks,
            "growth": memory_growth(marks, f"batches_{_MEMORY_FROM:.0%}", "batches_100%", actions),
        }
    flats = [p["growth"]["flat"] for p in per_proc.values()]
    return {
        "processes": per_proc,
        "peak_rss_mb": {name: p["peak_rss_mb"] for name, p in per_proc.items()},
        "flat": None if not flats or None in flats else all(flats),
        "timeline": memory.timeline if memory else [],
    }


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    settled = (result.get("settlement") or {}).get("actions_per_s")
    single = result.get("single") or {}
    p99 = (single.get("latency_ms") or {}).get("p99")
    at_rate = single.get("target_rate", 0) >= TARGET_SINGLE_RATE
    all_answered = single.get("requests") == single.get("answered")
    flat = (result.get("memory") or {}).get("flat")
    return {
        "settled_actions_per_s": {
            "target": f">= {TARGET_SETTLED_PER_S}",
            "value": settled,
            "met": None if settled is None else settled >= TARGET_SETTLED_PER_S,
        },
        "single_accept_p99_ms": {
            "target": f"< {TARGET_SINGLE_P99_MS:g} at {TARGET_SINGLE_RATE:g} req/s",
            "value": p99,
            "met": None if p99 is None or not at_rate else p99 < TARGET_SINGLE_P99_MS and all_answered,
        },
        "memory_flat": {"target": "flat in the number of actions", "value": flat, "met": flat},
        "certification_run": certification.target(result.get("certification")),
        **((result.get("redemption") or {}).get("targets") or {}),
    }


def _write(result: dict[str, Any], out: Path | None, bench_dir: Path, now: datetime) -> None:
    paths = [out] if out else [bench_dir / f"bench-{now:%Y%m%d-%H%M%S}.json", bench_dir / "latest.json"]
    result["written_to"] = [str(p) for p in paths]
    text = json.dumps(result, indent=2, ensure_ascii=False)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
