"""Pure arithmetic of the benchmark: percentiles, memory flatness, reconciliation. No I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FLAT_MIN_MB = 16.0  # allocator and cache warm-up below this is noise, not growth
FLAT_SHARE = 0.10  # nor is growth under 10% of the resident size at the first milestone


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/max/mean of latencies given in seconds, reported in milliseconds (3 decimals)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50": ms(percentile(ordered, 50)),
        "p90": ms(percentile(ordered, 90)),
        "p99": ms(percentile(ordered, 99)),
        "max": ms(ordered[-1] if ordered else None),
        "mean": ms(sum(ordered) / len(ordered) if ordered else None),
    }


def rate(count: int, seconds: float | None) -> float | None:
    """count per second, rounded to 0.1; None when no time elapsed."""
    if seconds is None or seconds <= 0:
        return None
    return round(count / seconds, 1)


def memory_growth(
    milestones: Mapping[str, float | None], first: str, last: str, actions: int | None = None
) -> dict[str, Any]:
    """How much a process grew between two milestones (MB), per 100,000 of the `actions` handled
    between them if given, and whether that counts as flat.

    Flat: growth within max(16 MB, 10% of the size at ``first``). Unknown (None) when a sample is missing.
    """
    start, end = milestones.get(first), milestones.get(last)
    if start is None or end is None:
        return {"from": first, "to": last, "growth_mb": None, "per_100k_actions_mb": None, "flat": None}
    growth = end - start
    return {
        "from": first,
        "to": last,
        "growth_mb": round(growth, 1),
        "per_100k_actions_mb": round(growth / actions * 100_000, 1) if actions else None,
        "flat": growth <= max(FLAT_MIN_MB, FLAT_SHARE * start),
    }


@dataclass(frozen=True)
class LedgerFigures:
    """What the database holds after the run; None where a table does not exist (yet)."""

    actions_rows: int | None
    outcomes_rows: int | None
    outcomes_without_action: int | None
    points_in_outcomes: int | None
    citizen_pending_balance: int | None
    ledger_balance_total: int | None


def reconcile(accepted: int, distinct_sent: int, rejected: int, db: LedgerFigures) -> dict[str, Any]:
    """Every count that must agree, and a human-readable line for each that does not.

    accepted == actions rows == outcomes rows; no outcome without its action; the points of the
    outcomes == the citizens' pending balances; all balances sum to zero (double entry); and every
    distinct action sent was either accepted or rejected.
    """
    mismatches: list[str] = []

    def check(name: str, left: int | None, right: int | None, what: str) -> None:
        if left is None or right is None:
            mismatches.append(f"{name}: unknown ({what} missing)")
        elif left != right:
            mismatches.append(f"{name}: {left} != {right} (off by {left - right:+d})")

    check("accepted == actions rows", accepted, db.actions_rows, "actions table")
    check("accepted + rejected == distinct actions sent", accepted + rejected, distinct_sent, "count")
    check("outcomes rows == accepted", db.outcomes_rows, accepted, "outcomes table")
    check("outcomes without an action == 0", db.outcomes_without_action, 0, "outcomes table")
    check(
        "points in outcomes == citizen pending balances",
        db.points_in_outcomes,
        db.citizen_pending_balance,
        "outcomes or ledger_balances table",
    )
    check("sum of all ledger balances == 0", db.ledger_balance_total, 0, "ledger_balances table")
    return {
        "accepted": accepted,
        "rejected": rejected,
        "distinct_actions_sent": distinct_sent,
        "actions_rows": db.actions_rows,
        "outcomes_rows": db.outcomes_rows,
        "outcomes_without_action": db.outcomes_without_action,
        "points_in_outcomes": db.points_in_outcomes,
        "citizen_pending_balance": db.citizen_pending_balance,
        "ledger_balance_total": db.ledger_balance_total,
        "ok": not mismatches,
        "mismatches": mismatches,
    }
