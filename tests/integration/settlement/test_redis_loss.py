"""Redis lost entirely in the middle of settlement (streams, consumer groups, rules states):
nothing accepted is lost, nothing is settled twice, and every decision is the one the engine makes
from the settled history, because the states are rebuilt from the database.

Runs its own Redis server (the platform's embedded one, on a socket of the test's own), so that
flushing it touches nothing else.
"""

from __future__ import annotations

import dataclasses

import pytest
import redis.asyncio as aioredis

from backend.context import Platform
from backend.embedded_redis import EmbeddedRedis
from backend.redis_hot import HotRedis
from tests.integration.settlement.conftest import count_outcomes, eventually
from tests.integration.settlement.harness import (
    accept,
    ledger_totals,
    replays_identically,
    spawn_worker,
    stored,
    traffic,
    worker_log,
)

pytestmark = pytest.mark.timeout(600)

ACTIONS = 30_000


@pytest.fixture
async def own_redis(platform: Platform, tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    client, hot = aioredis.Redis.from_url(server.url), HotRedis(server.url)
    yield server, client, hot
    await hot.aclose()
    await client.aclose()
    server.stop()


async def test_flushing_redis_mid_run_loses_and_duplicates_nothing(platform, own_redis):
    server, redis, hot = own_redis
    settings = platform.settings.model_copy(update={"redis_url": server.url})
    # The platform's intake, publishing to the Redis that will be lost.
    intake = dataclasses.replace(platform, settings=settings, redis=redis, hot=hot)
    items = traffic(ACTIONS, citizens=1500, seed=3)
    await accept(intake, items[: ACTIONS // 2])

    env = {"TANHUI_SWEEP_GRACE_S": "2", "TANHUI_SWEEP_INTERVAL_S": "1", "TANHUI_LEASE_S": "5"}
    worker = spawn_worker(settings, **env)
    try:
        await eventually(lambda: _more_than(count_outcomes(platform), 1000), timeout=120)
        await redis.flushall()
        flushed_at = await count_outcomes(platform)
        await accept(intake, items[ACTIONS // 2 :])  # intake goes on meanwhile
        await eventually(lambda: _equals(count_outcomes(platform), ACTIONS), timeout=240)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker_log(settings)}") from exc
    finally:
        worker.kill()
        worker.wait()

    assert flushed_at < ACTIONS // 2, "the flush came too late to lose anything"
    outcomes = await stored(platform)
    assert len(outcomes) == ACTIONS
    assert replays_identically(items, outcomes) == []
    totals = await ledger_totals(platform)
    assert totals["sum_of_balances"] == 0 and totals["negative_holders"] == 0
    assert totals["pending"] == totals["transacted"] == totals["outcome_points"]
    assert totals["transactions"] == sum(1 for _, _, o in outcomes.values() if o.points > 0)


async def _more_than(awaitable, n: int) -> bool:
    return (await awaitable) > n


async def _equals(awaitable, n: int) -> bool:
    return (await awaitable) == n
