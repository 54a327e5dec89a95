"""The bench's partners and bound citizens, in the run's fresh database.

Binding goes through HTTP with the SDK, as a partner binds its users: a `tanhui serve` of its own
(stopped before the measured platform starts, so it leaves nothing in their memory figures). Binding
the ~40,000 users of a default run takes minutes, so the bound population is kept as a PostgreSQL
template database (`tanhui_bench_tpl_<day>_<key>`) with its secrets in `var/bench/cache/`, keyed by the
corpus, the workload's shape and the migrations; a later run with the same key starts from a copy
(`CREATE DATABASE … TEMPLATE`), migrated to head. Templates whose days have left the API's window
are dropped. `--no-cache` binds afresh into the run's database and keeps nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from backend.bench import enrol, processes
from backend.bench.corpus import Workload
from backend.bench.database import BenchDatabase
from backend.bench.ui import progress
from backend.migrate import MIGRATIONS
from backend.settings import Settings
from partners.sdk import Credentials

SECRET_NAMES = ("secret_key", "pii_key", "jwt_key")


@dataclass(frozen=True)
class Population:
    secrets: dict[str, str]  # what every platform process must share to read the partners' keys
    creds: dict[str, Credentials]  # partner kind -> key
    summary: dict[str, Any]


def platform_config(
    base: Settings, db: BenchDatabase, run_dir: Path, prefix: str, keys: Mapping[str, str]
) -> tuple[Settings, dict[str, str]]:
    """Settings of the platform's processes (and of the bench's own admin calls), and them as env."""
    values = {
        "database_url": db.url,
        "redis_url": base.redis_url,
        "redis_prefix": prefix,
        "var_dir": str(run_dir),
        "host": "127.0.0.1",
        **keys,
    }
    env = {f"TANHUI_{k.upper()}": v for k, v in values.items()}
    return Settings(**values, workers=False), processes.platform_env(os.environ, env)  # type: ignore[arg-type]


def population_key(corpus_key: str, workload: Workload, cache_dir: Path | None) -> str:
    """The template's key: the workload, the schema, and the cache that holds the template's
    secrets. Two checkouts benching on one server (a worktree beside main) each keep their own
    template: with one shared, the second to build it replaced the first's, whose cached secrets
    then no longer opened the partners' keys (every request failed with 500, InvalidTag)."""
    digest = hashlib.sha256(f"{corpus_key}:{len(workload.batches)}:{workload.batch_actions}".encode())
    digest.update(str(len(workload.singles)).encode())
    for migration in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(migration.read_bytes())
    if cache_dir is not None:
        digest.update(str(cache_dir.resolve()).encode())
    return digest.hexdigest()[:16]


def prepare(
    run_db: BenchDatabase,
    workload: Workload,
    key: str,
    day: date,
    cache_dir: Path | None,
    config: Callable[[BenchDatabase, Mapping[str, str]], tuple[Settings, dict[str, str]]],
    run_dir: Path,
    console: Console,
) -> Population:
    """Create the run's database with its partners and bound users: from the template if there is
    one for `key` (and `cache_dir` is given), else by binding, which also makes the template.
    `day` is the newest simulated day: templates of older ones are dropped."""
    template = run_db.template_for(key, day) if cache_dir else None
    saved = cache_dir / f"population-{day:%Y%m%d}-{key}.json" if cache_dir else None
    if template is not None and saved is not None and saved.exists() and template.exists():
        run_db.create(template=template)
        doc = json.loads(saved.read_text())
        creds = {kind: Credentials(**c) for kind, c in doc["creds"].items()}
        return Population(doc["secrets"], creds, {**doc["summary"], "from_template": template.name})
    target = template or run_db
    if template is not None:
        template.drop()  # one without its secrets is of no use
    target.create()
    keys = {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}
    settings, env = config(target, keys)
    creds = enrol.create_partners(settings)
    summary = _bind(workload, creds, env, run_dir, console)
    if template is not None and saved is not None:
        doc = {"secrets": keys, "creds": {k: asdict(c) for k, c in creds.items()}, "summary": summary}
        _write_private(saved, json.dumps(doc))
        for stale in saved.parent.glob("population-*.json"):
            if stale.name.split("-")[1] < f"{day:%Y%m%d}":
                stale.unlink(missing_ok=True)
        template.drop_templates_before(day)
        run_db.create(template=template)
    return Population(keys, creds, {**summary, "from_template": None})


def _bind(
    workload: Workload, creds: dict[str, Credentials], env: dict[str, str], run_dir: Path, console: Console
) -> dict[str, Any]:
    api_env = {**env, "TANHUI_PORT": str(processes.free_port()), "TANHUI_WORKERS": "false"}
    api = processes.start("bind-api", "api", ["serve"], api_env, run_dir)
    try:
        processes.wait_ready([api])
        began = time.monotonic()
        url = f"http://127.0.0.1:{api.port}"
        with progress(console) as bar:
            total = sum(len(b) for b in workload.bindings.values())
            task = bar.add_task("binding users", total=total, note=f"{len(creds)} partners")
            urls = dict.fromkeys(creds, url)
            bound = enrol.bind_users(urls, creds, workload.bindings, lambda n: bar.advance(task, n))
        return {**bound, "binding_seconds": round(time.monotonic() - began, 1)}
    finally:
        processes.stop([api])


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
