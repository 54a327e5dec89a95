"""The bench's calibration: a fixed workload, the same on every machine, timed."""

from __future__ import annotations

from collections import Counter

from backend.bench.calibrate import ACTIONS, CITIZENS, engine_us_per_action, workload
from points_engine.methodologies import default_catalog
from points_engine.rules import Policy
from points_engine.settlement import settle


def test_the_workload_is_the_same_every_time() -> None:
    assert workload() == workload()
    assert len(workload()) == ACTIONS
    assert len({item.citizen_id for item in workload()}) == CITIZENS


def test_the_workload_exercises_the_rules_not_only_the_prices() -> None:
    settled, _ = settle(workload(), {}, default_catalog(), Policy.default())
    statuses = Counter(s.outcome.status for s in settled)
    assert statuses["credited"] > ACTIONS // 2 and statuses["rejected"] + statuses["capped"] > 0, statuses


def test_the_figure_is_a_time_per_action() -> None:
    assert 0 < engine_us_per_action(rounds=1) < 10_000
