"""How fast this machine runs the engine right now: a fixed workload, timed, so that bench runs
on different machines, or on one machine whose speed drifts, can be compared.

Machines of one kind are not equally fast: the same CPU model string took ~1.5x the CPU per
action in one session as in the session before, and runs of one session varied by ±15 % with
nothing changed (docs/performance.md). The figure is the engine's own work, settling a fixed
stream of trips in memory, in µs per action: the best of several rounds, since the machine's
neighbours can only add to it. It is taken at the start and at the end of a run.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from points_engine.actions import Action, ActionBody, Trip
from points_engine.methodologies import default_catalog
from points_engine.records import Accepted
from points_engine.rules import Policy
from points_engine.settlement import settle

ACTIONS = 2_000
CITIZENS = 400
ROUNDS = 5
_MODES = ("bus", "metro", "bike", "walk")


def workload(start: datetime | None = None) -> list[Accepted]:
    """The fixed stream: ``ACTIONS`` trips of ``CITIZENS`` citizens over a day, the same every time."""
    rng = random.Random(2026)
    start = start or datetime(2026, 11, 2, tzinfo=UTC)
    items = []
    for i in range(ACTIONS):
        at = start + timedelta(seconds=i * 40)
        trip = Trip(rng.choice(_MODES), rng.randint(500, 12_000), rng.randint(300, 3_600))
        action = Action("calibration", f"cal-{i}", f"u{i % CITIZENS}", ActionBody("trip", at, "440507", trip))
        items.append(Accepted(f"c_{i % CITIZENS:04d}", action))
    return items


def engine_us_per_action(rounds: int = ROUNDS) -> float:
    """The best of ``rounds`` timings of settling ``workload()`` from empty rules states."""
    items, catalog, policy = workload(), default_catalog(), Policy.default()
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        settle(items, {}, catalog, policy)
        best = min(best, time.process_time() - began)
    return round(best / len(items) * 1e6, 2)
