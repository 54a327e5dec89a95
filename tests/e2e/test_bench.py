"""`tanhui bench` as `make bench` runs it, tiny: real processes, PostgreSQL, Redis, JSON out.

Two batches of 100 actions, then 2 s of single actions at 50 requests/s. The bench creates its
own database next to the test one, and drops it afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import BACKEND, PG_ADMIN, REDIS_URL

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="the benchmark needs PostgreSQL and Redis")

BATCHES, BATCH_SIZE, RATE, SECONDS = 2, 100, 50, 2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    var = tmp_path_factory.mktemp("bench-var")
    out = var / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env.update(
        TANHUI_VAR_DIR=str(var),
        TANHUI_DATABASE_URL=PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1),
        TANHUI_REDIS_URL=REDIS_URL,
        TANHUI_REDIS_PREFIX=f"tanhui_test_bench_{secrets.token_hex(3)}",
    )
    args = ["--batches", str(BATCHES), "--batch-size", str(BATCH_SIZE), "--rate", str(RATE),
            "--single-seconds", str(SECONDS), "--clients", "1", "--settle-timeout", "60",
            "--no-cache", "--out", str(out), "--json"]  # fmt: skip
    command = [sys.executable, "-m", "backend", "bench", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(Path(out).read_text())


def test_the_result_is_printed_and_written_with_every_section(run: tuple[Any, dict[str, Any]]) -> None:
    proc, result = run
    assert json.loads(proc.stdout) == result
    assert result["schema"] == "tanhui-bench/1" and "error" not in result
    for section in ("config", "setup", "workers", "intake", "settlement", "single", "memory", "reconcile",
                    "targets"):  # fmt: skip
        assert section in result, section
    assert result["intake"]["batch_latency_ms"]["p99"] > 0
    held = result["workers"]["partitions"]  # the load began once the worker held every partition
    assert len(held) == 1 and list(held.values()) == [result["workers"]["settle_partitions"]], held
    assert result["single"]["latency_ms"]["p50"] > 0 and result["single"]["latency_ms"]["p99"] > 0
    for proc_memory in result["memory"]["processes"].values():
        assert proc_memory["peak_rss_mb"] > 0 and proc_memory["rss_mb"]["batches_100%"] > 0
    machine = result["machine"]  # the engine's fixed workload, timed before and after: compares runs
    assert machine["engine_us_per_action_at_start"] > 0 and machine["engine_us_per_action_at_end"] > 0


def test_every_action_sent_is_accepted_and_recorded(run: tuple[Any, dict[str, Any]]) -> None:
    _, result = run
    intake, single, check = result["intake"], result["single"], result["reconcile"]
    assert intake["statuses"] == {"202": BATCHES} and intake["rejected"] == 0
    assert intake["accepted"] == BATCHES * BATCH_SIZE
    assert single["requests"] == RATE * SECONDS and single["statuses"] == {"202": RATE * SECONDS}
    assert single["accepted"] == RATE * SECONDS
    assert check["accepted"] == check["actions_rows"] == check["distinct_actions_sent"] == 300


def test_every_accepted_action_settles_and_the_ledger_reconciles(run: tuple[Any, dict[str, Any]]) -> None:
    _, result = run
    assert result["settlement"]["settled"], result["settlement"]
    assert result["settlement"]["outcomes"] == BATCHES * BATCH_SIZE
    assert result["settlement"]["actions_per_s"] > 0
    assert result["reconcile"]["ok"], result["reconcile"]["mismatches"]
    assert result["reconcile"]["outcomes_rows"] == 300


def test_the_bench_database_is_dropped_afterwards(run: tuple[Any, dict[str, Any]]) -> None:
    _, result = run
    name = result["config"]["database"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
