"""Scheduled certification: one claim per interval however many workers ask, and each book's
previous and current month certified (with the periods that have approvals waiting)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.certification.schedule import certify_due, claim_slot
from tests.integration.certification.seed import seed
from tests.integration.certification.test_runs import actions

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # December in Shanghai: November is the previous month


async def test_one_of_many_workers_claims_each_interval(platform):
    claims = await asyncio.gather(*(claim_slot(platform, 3600, NOW) for _ in range(10)))
    assert sum(claims) == 1
    assert not await claim_slot(platform, 3600, NOW + timedelta(minutes=59))
    assert await claim_slot(platform, 3600, NOW + timedelta(minutes=61))


async def test_the_due_periods_of_both_books_are_certified_once(platform):
    await seed(platform, actions(5) + actions(5, start=10, book="nanao"))
    issued = await certify_due(platform, NOW)
    assert issued == ["run_nanao_2026-11_000001", "run_shantou_2026-11_000001"]
    assert await certify_due(platform, NOW) == []
