"""Redis: the hot path. Either the configured server, or one the platform starts itself.

Every key carries a hash tag (``{p_…}`` for a partner, ``{c_…}`` for a citizen, ``{s_…}`` for a
settlement partition) so that one partner's or one citizen's state lives on one shard of a Redis Cluster.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from backend.embedded_redis import EmbeddedRedis
from backend.settings import Settings


class Keys:
    """Names of every Redis key, in one place."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def nonce(self, partner_id: str, nonce: str) -> str:
        return f"{self.prefix}:{{p_{partner_id}}}:nonce:{nonce}"

    def partner(self, partner_id: str) -> str:
        return f"{self.prefix}:{{p_{partner_id}}}:partner"

    def partner_generation(self, partner_id: str) -> str:
        """Replaced on every change to the partner (``backend.auth.partners``)."""
        return f"{self.prefix}:{{p_{partner_id}}}:partner:generation"

    def stream(self, partition: int) -> str:
        """The settlement stream of one partition of citizens."""
        return f"{self.prefix}:{{s_{partition}}}:settle"

    def rules_state(self, citizen_id: str) -> str:
        """One citizen's anti-fraud rules state (citizen ids already read ``c_…``)."""
        return f"{self.prefix}:{{{citizen_id}}}:rules"


async def connect(settings: Settings, embedded: EmbeddedRedis | None = None) -> aioredis.Redis:
    url = settings.redis_url or (embedded.url if embedded else "")
    if not url:
        raise RuntimeError("no Redis: set TANHUI_REDIS_URL or start the embedded server")
    # A blocking pool: under a burst, a request waits (up to 5 s) for a free connection instead of
    # failing with "Too many connections" (a 500) when the pool's 100 connections are all busy.
    # No socket read timeout (redis-py 8 sets 5 s by default): each read would then arm a timer,
    # ~40 µs of CPU per command on the hot path. Blocking reads (XREADGROUP) carry their own.
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=200, socket_timeout=None)
    pool.timeout = 5  # set apart: from_url would also make it every socket's read timeout
    client: aioredis.Redis = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
    await client.ping()
    return client
