"""Workers killed with SIGKILL at random moments lose nothing and duplicate nothing.

100,000 actions are accepted and published; two `tanhui worker` processes settle them while one
of them is killed every so often and started again. At the end every action has exactly one
outcome, equal to what the pure engine decides for the same stream, and the ledger reconciles to
the point with the outcomes.
"""

from __future__ import annotations

import asyncio
import random
import signal

import pytest

from tests.conftest import BACKEND
from tests.integration.settlement.conftest import count_outcomes
from tests.integration.settlement.harness import (
    accept,
    assert_contiguous_sequences,
    ledger_totals,
    reference,
    spawn_worker,
    stored,
    traffic,
    worker_log,
)

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgres", reason="crash test of the production backend"),
    pytest.mark.timeout(900),
]

ACTIONS = 100_000


async def test_killed_workers_settle_everything_exactly_once_to_the_reference(platform):
    items = traffic(ACTIONS, citizens=4000)
    expected = reference(items)
    await accept(platform, items)

    rng = random.Random(11)
    env = {"TANHUI_LEASE_S": "5", "TANHUI_SETTLE_BATCH": "1000"}
    workers = [spawn_worker(platform.settings, **env) for _ in range(2)]
    kills = 0
    try:
        settled = await count_outcomes(platform)
        while settled < ACTIONS:
            # Kill at a random moment while settlement is making progress (a process takes
            # seconds to start; killing it before it settles anything would test nothing).
            settled = await _progress(platform, settled)
            await asyncio.sleep(rng.uniform(0.0, 3.0))
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = spawn_worker(platform.settings, **env)
            settled = await count_outcomes(platform)
    finally:
        for w in workers:
            w.kill()
            w.wait()

    outcomes = await stored(platform)
    assert kills >= 3, kills
    assert len(outcomes) == ACTIONS
    await assert_contiguous_sequences(platform, ACTIONS)  # no gap, no repeat
    differences = [k for k, (_, _, o) in outcomes.items() if o != expected[k]]
    assert differences == []
    totals = await ledger_totals(platform)
    assert totals["sum_of_balances"] == 0
    assert totals["negative_holders"] == 0
    assert totals["pending"] == totals["transacted"] == totals["outcome_points"]
    assert totals["transactions"] == sum(1 for o in expected.values() if o.points > 0)


async def _progress(platform, since: int, timeout: float = 60.0) -> int:
    """Wait until more than ``since`` outcomes exist (or all do): their number."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (now := await count_outcomes(platform)) <= since and now < ACTIONS:
        assert loop.time() < deadline, f"no progress past {since} outcomes in {timeout} s:\n" + worker_log(
            platform.settings
        )
        await asyncio.sleep(0.1)
    return now
