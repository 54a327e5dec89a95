"""What settlement and certification really write reconciles: traffic through the settlement
worker (every rule: overlaps, caps, flags, rejections), both books certified, then verified."""

from __future__ import annotations

import asyncio

from backend.certification.runs import certify
from backend.reconcile import reconcile
from backend.settlement.worker import Worker
from tests.integration.settlement.conftest import count_outcomes, eventually
from tests.integration.settlement.harness import accept, traffic

ACTIONS = 1500


async def test_settled_and_certified_traffic_reconciles(platform):
    # given: traffic settled by a real worker
    items = traffic(ACTIONS, citizens=40, seed=11)
    await accept(platform, items)
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(platform).run(stop))
    try:
        await eventually(lambda: _at_least(count_outcomes(platform), ACTIONS), timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    # when: both books certified
    shantou = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    nanao = await certify(platform.db, "nanao", "2026-11", actor="admin:test")
    report = await reconcile(platform.db)
    # then
    assert shantou.tree_size > 0 and nanao.tree_size > 0
    assert report.ok, [str(f) for f in report.findings[:20]]
    totals = report.info["partners"]
    assert sum(t["actions"] for t in totals.values()) == ACTIONS
    assert sum(t["outcomes"] for t in totals.values()) == ACTIONS
    assert sum(t["unsettled"] + t["settling"] for t in totals.values()) == 0


async def _at_least(count, n: int) -> bool:
    return await count >= n
