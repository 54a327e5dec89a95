"""Raw psycopg connections for the hot paths on PostgreSQL (redemption, single-action intake).

The SQLAlchemy engine (``backend.db``) serves every use case; a few use cases that run hundreds
of times a second bypass it. Through SQLAlchemy's async layer a statement costs ~0.3 ms of Python
(statement building, cache keys, the greenlet bridge); here a prepared statement costs ~0.05 ms,
and a hot use case is written as a handful of statements, not a dozen (docs/performance.md).

The pool opens on first use, in the event loop that serves requests, and opens nothing for CLI
commands that never take the hot path. ``None`` on SQLite: the embedded default has one writer
and takes the SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool

T = TypeVar("T")
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)


class HotPool:
    def __init__(self, url: str, *, size: int, timeout_s: float) -> None:
        # The SQLAlchemy URL names its driver ("postgresql+psycopg://"); libpq wants "postgresql://".
        self.conninfo = "postgresql://" + url.split("://", 1)[1]
        self.size = size
        self.timeout_s = timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._opening = asyncio.Lock()

    async def _opened(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
                        self.conninfo,
                        min_size=1,
                        max_size=self.size,
                        timeout=self.timeout_s,
                        kwargs={"row_factory": namedtuple_row, "prepare_threshold": 1},
                        open=False,
                    )
                    await pool.open()
                    self._pool = pool
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection in a transaction: committed when the block exits without error, else
        rolled back. A wait longer than ``timeout_s`` raises ``psycopg_pool.PoolTimeout`` (503)."""
        pool = await self._opened()
        async with pool.connection() as conn:
            yield conn

    async def run(
        self,
        use_case: Callable[[AsyncConnection[Any]], Awaitable[T]],
        attempts: int = 3,
        *,
        autocommit: bool = False,
    ) -> T:
        """Run a use case in its own transaction, rerunning it on serialization failure or deadlock.
        ``autocommit``: the use case is one statement, its own transaction (no BEGIN, no COMMIT:
        one round trip); committed when its answer arrives."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as conn:
                    if not autocommit:
                        return await use_case(conn)
                    await conn.set_autocommit(True)
                    try:
                        return await use_case(conn)
                    finally:
                        if not conn.broken:  # (a broken one is discarded by the pool)
                            await conn.set_autocommit(False)  # the pool's other users expect transactions
            except _RETRYABLE:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def hot_pool(url: str, *, size: int, timeout_s: float) -> HotPool | None:
    return None if url.startswith("sqlite") else HotPool(url, size=size, timeout_s=timeout_s)
