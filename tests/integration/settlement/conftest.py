"""Settlement tests: a worker of the test's own, run in the test's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.context import Platform
from backend.models import SettledOutcome
from backend.settlement.worker import Worker


@pytest.fixture
async def worker(platform: Platform) -> AsyncIterator[Worker]:
    """A running settlement worker (stopped, leases released, after the test)."""
    w = Worker(platform)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    yield w
    stop.set()
    await asyncio.wait_for(task, 30)


async def count_outcomes(platform: Platform) -> int:
    async with platform.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(SettledOutcome))).scalar_one())


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {check}")
        await asyncio.sleep(0.05)
