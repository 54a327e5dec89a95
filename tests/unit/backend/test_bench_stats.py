"""The benchmark's arithmetic: percentiles, memory flatness, and the reconciliation of counts."""

from __future__ import annotations

import pytest

from backend.bench.stats import LedgerFigures, latency_summary, memory_growth, percentile, rate, reconcile


def figures(**overrides: int | None) -> LedgerFigures:
    values: dict[str, int | None] = {
        "actions_rows": 300,
        "outcomes_rows": 300,
        "outcomes_without_action": 0,
        "points_in_outcomes": 5_000,
        "citizen_pending_balance": 5_000,
        "ledger_balance_total": 0,
    }
    values.update(overrides)
    return LedgerFigures(**values)  # type: ignore[arg-type]


class TestPercentile:
    def test_nearest_rank_of_one_to_a_hundred_is_the_rank_itself(self) -> None:
        values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
        assert percentile(values, 50) == 50.0
        assert percentile(values, 99) == 99.0
        assert percentile(values, 100) == 100.0
        assert percentile(values, 0) == 1.0

    def test_p99_of_few_samples_is_the_largest(self) -> None:
        assert percentile([0.003, 0.001, 0.002], 99) == 0.003

    def test_no_samples_have_no_percentile(self) -> None:
        assert percentile([], 50) is None

    def test_a_percentile_outside_0_to_100_is_refused(self) -> None:
        with pytest.raises(ValueError):
            percentile([1.0], 101)


class TestLatencySummary:
    def test_seconds_are_reported_in_milliseconds(self) -> None:
        summary = latency_summary([0.010, 0.020, 0.030, 0.040])
        assert summary == {"count": 4, "p50": 20.0, "p90": 40.0, "p99": 40.0, "max": 40.0, "mean": 25.0}

    def test_no_latencies_give_nulls_not_an_error(self) -> None:
        assert latency_summary([]) == {
            "count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None,
        }  # fmt: skip


def test_rate_is_none_when_no_time_elapsed() -> None:
    assert rate(1000, 0.5) == 2000.0
    assert rate(1000, 0.0) is None and rate(1000, None) is None


class TestMemoryGrowth:
    def test_a_few_megabytes_of_warm_up_is_flat(self) -> None:
        grown = memory_growth({"a": 120.0, "b": 130.0}, "a", "b", actions=50_000)
        assert grown == {"from": "a", "to": "b", "growth_mb": 10.0, "per_100k_actions_mb": 20.0, "flat": True}

    def test_growth_beyond_a_tenth_of_a_large_process_is_not_flat(self) -> None:
        assert memory_growth({"a": 400.0, "b": 441.0}, "a", "b")["flat"] is False
        assert memory_growth({"a": 400.0, "b": 439.0}, "a", "b")["flat"] is True

    def test_a_missing_sample_is_unknown(self) -> None:
        assert memory_growth({"a": 120.0}, "a", "b")["flat"] is None


class TestReconcile:
    def test_agreeing_counts_reconcile(self) -> None:
        result = reconcile(accepted=300, distinct_sent=300, rejected=0, db=figures())
        assert result["ok"] and result["mismatches"] == []

    def test_unsettled_actions_are_a_mismatch_with_the_difference(self) -> None:
        result = reconcile(accepted=300, distinct_sent=300, rejected=0, db=figures(outcomes_rows=290))
        assert not result["ok"]
        assert result["mismatches"] == ["outcomes rows == accepted: 290 != 300 (off by -10)"]

    def test_points_not_matching_pending_balances_are_reported(self) -> None:
        result = reconcile(300, 300, 0, figures(citizen_pending_balance=4_990))
        assert result["mismatches"] == [
            "points in outcomes == citizen pending balances: 5000 != 4990 (off by +10)"
        ]

    def test_rejected_actions_count_towards_what_was_sent(self) -> None:
        assert reconcile(298, 300, 2, figures(actions_rows=298, outcomes_rows=298))["ok"]

    def test_a_missing_table_is_reported_not_raised(self) -> None:
        result = reconcile(
            300, 300, 0,
            figures(outcomes_rows=None, outcomes_without_action=None, points_in_outcomes=None),
        )  # fmt: skip
        assert not result["ok"]
        assert "outcomes rows == accepted: unknown (outcomes table missing)" in result["mismatches"]
