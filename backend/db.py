"""The database: one async engine, and the transaction that every use case opens.

``Database.transaction()`` is the only code that begins, commits or rolls back.
Effects that must not happen unless the commit does (a stream publish, a cache
invalidation) are registered with ``Tx.after_commit`` and run after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock


@dataclass
class Tx:
    """An open transaction: the connection, its start time, and effects to run after commit."""

    conn: AsyncConnection
    started_at: datetime
    _after: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, effect: AfterCommit) -> None:
        self._after.append(effect)


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # A request that waits pool_timeout_s for a connection is answered 503 `overloaded`.
            kwargs.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout_s,
                pool_pre_ping=True,
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._writer_lock: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A read-write transaction; committed when the block exits without error."""
        # SQLite has one writer; queueing writers here avoids its busy-upgrade failures.
        async with self._writer_lock, self.engine.begin() as conn:
            tx = Tx(conn=conn, started_at=datetime.now(UTC))
            yield tx
        for effect in tx._after:
            try:
                await effect()
            except Exception:  # the commit stands; a lost effect is repaired by its sweeper
                log.exception("after-commit effect failed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only use case."""
        async with self.engine.connect() as conn:
            yield conn

    async def run(self, use_case: Callable[[Tx], Awaitable[Any]], attempts: int = 3) -> Any:
        """Run a use case in its own transaction, rerunning it on serialization failure or deadlock."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as tx:
                    return await use_case(tx)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes, which is what we promise
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
