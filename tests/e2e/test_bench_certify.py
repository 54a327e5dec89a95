"""`tanhui bench --certify-only --certify-actions N`, tiny: PostgreSQL makes a month of settled
outcomes, one certification run covers them, and the JSON reconciles with what was made.

3,000 actions (three chunks of leaves, the last one short): small enough that the bench also
recomputes the run's root in pure Python from the binding leaf format.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import BACKEND, PG_ADMIN

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="the benchmark needs PostgreSQL")

ACTIONS = 3000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    var = tmp_path_factory.mktemp("bench-var")
    out = var / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env.update(
        TANHUI_VAR_DIR=str(var),
        TANHUI_DATABASE_URL=PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1),
    )  # no Redis: the certification phase alone does not need it
    args = ["--certify-only", "--certify-actions", str(ACTIONS), "--no-cache", "--out", str(out), "--json"]
    command = [sys.executable, "-m", "backend", "bench", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(Path(out).read_text())


def test_only_the_certification_phase_runs_and_its_figures_are_written(
    run: tuple[Any, dict[str, Any]],
) -> None:
    proc, result = run
    assert json.loads(proc.stdout) == result
    assert result["schema"] == "tanhui-bench/1" and "error" not in result
    assert "intake" not in result and "settlement" not in result
    cert = result["certification"]
    for field in ("seconds", "issue_seconds", "hash_seconds", "points_seconds", "actions_per_s"):
        assert cert[field] > 0, field
    assert cert["issue_seconds"] + cert["points_seconds"] == pytest.approx(cert["seconds"], abs=0.02)
    memory = cert["memory"]
    assert 0 < memory["rss_before_mb"] <= memory["peak_rss_mb"]
    assert memory["rss_after_mb"] > 0
    assert result["targets"]["certification_run"]["met"] is None, "judged on a million actions or more"


def test_the_run_covers_every_eligible_action_and_reconciles(run: tuple[Any, dict[str, Any]]) -> None:
    _, result = run
    cert = result["certification"]
    checks = cert["checks"]
    assert checks["ok"], checks
    assert checks["root"] is True, "the root equals the pure-Python recomputation"
    assert checks["tree_size"] and checks["tonnes"] and checks["points_available"]
    # a few percent of the generated outcomes are rejected or flagged: not in the run
    assert 0.9 * ACTIONS < cert["actions"] < ACTIONS
    assert cert["chunks"] == math.ceil(cert["actions"] / 1024) == 3
    assert cert["tonnes"] * 1_000_000 + cert["carry_out_g"] == cert["reduction_g"]
    assert cert["points"] == cert["reduction_g"], "one point per gram in both books"


def test_the_bench_database_is_dropped_afterwards(run: tuple[Any, dict[str, Any]]) -> None:
    _, result = run
    name = result["config"]["database"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
