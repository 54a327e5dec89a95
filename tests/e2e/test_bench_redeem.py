"""`tanhui bench --redeem-only`, tiny: a platform process of its own, a few seconds of reservations
and redemptions at a low rate, then the one-wallet and one-code races, reconciled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import BACKEND, PG_ADMIN, REDIS_URL

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="the benchmark needs PostgreSQL and Redis")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    var = tmp_path_factory.mktemp("bench-var")
    out = var / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env.update(
        TANHUI_VAR_DIR=str(var),
        TANHUI_DATABASE_URL=PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1),
        TANHUI_REDIS_URL=REDIS_URL,
    )
    args = ["--redeem-only", "--redeem-seconds", "2", "--redeem-rate", "20", "--out", str(out), "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "backend", "bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(Path(out).read_text())  # type: ignore[no-any-return]


def test_every_redemption_at_a_low_rate_went_through_and_reconciles(result: dict[str, Any]) -> None:
    assert "error" not in result and "intake" not in result and "certification" not in result
    rated = result["redemption"]["rate"]
    assert rated["redemptions"] == rated["redeemed"] == 40
    assert rated["statuses"] == {"reserve 201": 40, "redeem 200": 40}
    assert 0 < rated["redeem_ms"]["p50"] <= rated["redeem_ms"]["p99"]
    assert result["redemption"]["reconcile"]["ok"] is True


def test_the_races_neither_overdraw_nor_pay_twice(result: dict[str, Any]) -> None:
    wallet, code = result["redemption"]["one_wallet"], result["redemption"]["one_code"]
    assert wallet["reserved"] == wallet["funded_units"] == 50 and wallet["overdraft_points"] == 0
    assert wallet["balances"] == {"available": 0, "held": 500}
    assert code["paid"] == 1
    assert result["targets"]["overdraft"]["met"] is True


def test_the_phase_database_is_dropped_afterwards(result: dict[str, Any]) -> None:
    name = result["redemption"]["database"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
