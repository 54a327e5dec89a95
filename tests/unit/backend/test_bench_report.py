"""The lines a person reads after `make bench`: the machine's calibration, and a warning when the
hypervisor took cores from the run."""

from __future__ import annotations

from typing import Any

from backend.bench.cpu import STOLEN
from backend.bench.report import summary


def result(stolen_single: float, stolen_intake: float = 0.0) -> dict[str, Any]:
    return {
        "intake": {
            "accepted": 1000,
            "seconds": 1.0,
            "actions_per_s": 1000.0,
            "cpu_cores": {STOLEN: stolen_intake},
        },
        "settlement": {"settled": True, "actions_per_s": 900.0, "cpu_cores_while_waiting": {STOLEN: 0.0}},
        "single": {
            "achieved_rate": 100.0,
            "latency_ms": {"p50": 1.0, "p99": 2.0},
            "cpu_cores": {STOLEN: stolen_single},
        },
        "machine": {"engine_us_per_action_at_start": 31.5, "engine_us_per_action_at_end": 33.25},
        "reconcile": {"ok": True},
        "written_to": ["x.json"],
    }


def test_the_calibration_of_the_run_is_printed() -> None:
    assert "31.5 µs an action at the start, 33.2 µs at the end" in summary(result(0.0))


def test_a_run_the_hypervisor_took_cores_from_says_so() -> None:
    text = summary(result(0.43, stolen_intake=0.19))
    assert "the hypervisor took cores (intake 0.19, single 0.43)" in text
    assert "lower bounds" in text


def test_a_quiet_run_has_no_warning() -> None:
    assert "hypervisor" not in summary(result(0.02, stolen_intake=0.01))
