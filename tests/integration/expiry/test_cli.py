"""``tanhui expire`` as an operator runs it: a real process on the test's database, at the real time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.settings import Settings
from tests.integration.expiry.ledger import balance, earn


def expire(settings: Settings, var: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env.update(
        TANHUI_VAR_DIR=str(var),  # its own: an embedded Redis of its own
        TANHUI_DATABASE_URL=settings.effective_database_url,
        TANHUI_REDIS_URL=settings.redis_url,
        TANHUI_REDIS_PREFIX=settings.redis_prefix,
        TANHUI_SECRET_KEY=settings.secret_key,
        TANHUI_PII_KEY=settings.pii_key,
        TANHUI_JWT_KEY=settings.jwt_key,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "backend", "expire", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


async def test_expire_sweeps_now_and_a_second_run_the_same_day_changes_nothing(platform, settings, tmp_path):
    # given: points from November 2024, past their 24 months now, and points from last month
    await earn(platform, "c_cli_1", 120, datetime(2024, 11, 3, 2, 0, tzinfo=UTC), "nanao")
    await earn(platform, "c_cli_2", 80, datetime(2026, 10, 3, 2, 0, tzinfo=UTC))
    # when
    first = expire(settings, tmp_path)
    again = expire(settings, tmp_path)
    # then
    assert first["citizens"] == 2 and first["expired_citizens"] == 1
    assert first["expired"] == {"nanao": 120}
    assert again["expired"] == {} and again["day"] == first["day"]
    assert await balance(platform, "expiry:nanao") == 120
    assert await balance(platform, "citizen:c_cli_2:available") == 80
