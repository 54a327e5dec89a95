"""Group commit: concurrent requests share one statement (or one Redis pipeline).

While a flush is in flight, the requests that arrive queue up; the next flush takes them all at
once. Nothing waits on a timer: an idle server flushes a lone request at once, and a busy one
coalesces as many as arrived during the previous round trip (each round trip costs ~0.1 ms of
Python, and a statement a commit of PostgreSQL, whatever it carries). Up to ``concurrency`` flushes
may be in flight at once, never two holding the same key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Waiting(Generic[T, R]):
    item: T
    keys: frozenset[Hashable]
    size: int
    answer: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    """``submit(item)`` answers ``flush([..., item, ...])[i]``, flushing at most ``concurrency``
    groups at a time.

    Items whose ``keys`` meet are never in one group nor in two groups in flight at once (a later
    one waits until the earlier one's flush is done), and a group holds at most ``max_size`` in total
    ``size``. A flush that raises one of ``alone_on`` (what an item can cause) is retried item by
    item, so a bad item fails its own request only; any other error (a pool timeout, a lost
    connection) fails the whole group at once.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[list[R]]],
        keys: Callable[[T], Iterable[Hashable]],
        size: Callable[[T], int],
        max_size: int,
        alone_on: tuple[type[Exception], ...] = (),
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._flush, self._keys, self._size, self.max_size = flush, keys, size, max_size
        self._alone_on = alone_on
        self._concurrency = concurrency
        self._queue: list[_Waiting[T, R]] = []
        self._runners = 0  # tasks draining the queue, one flush in flight each at most
        self._busy: set[Hashable] = set()  # the keys of the groups in flight

    async def submit(self, item: T) -> R:
        waiting = _Waiting(
            item, frozenset(self._keys(item)), self._size(item), asyncio.get_running_loop().create_future()
        )
        self._queue.append(waiting)
        if self._runners < self._concurrency:
            self._runners += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await waiting.answer

    async def _drain(self) -> None:
        """Flush groups until none can be taken: what is left waits on keys in flight, and the
        runner flushing those takes it when its flush is done."""
        try:
            while group := self._take():
                keys = frozenset().union(*(w.keys for w in group))
                self._busy |= keys
                try:
                    await self._run(group)
                finally:
                    self._busy -= keys
        except BaseException:  # cancelled (the loop is closing): nobody will answer the rest
            for waiting in self._queue:
                waiting.answer.cancel()
            self._queue = []
            raise
        finally:
            self._runners -= 1

    def _take(self) -> list[_Waiting[T, R]]:
        group: list[_Waiting[T, R]] = []
        seen: set[Hashable] = set()
        size = 0
        later = []
        busy = self._busy
        for waiting in self._queue:
            if (
                not busy.isdisjoint(waiting.keys)
                or not seen.isdisjoint(waiting.keys)
                or (group and size + waiting.size > self.max_size)
            ):
                later.append(waiting)
                continue
            group.append(waiting)
            seen.update(waiting.keys)
            size += waiting.size
        self._queue = later
        return group

    async def _run(self, group: list[_Waiting[T, R]]) -> None:
        try:
            answers = await self._flush([w.item for w in group])
        except Exception as exc:
            if len(group) > 1 and isinstance(exc, self._alone_on):
                for waiting in group:  # alone, so that only a bad item fails
                    await self._run([waiting])
                return
            for waiting in group:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            return
        except BaseException:
            for waiting in group:
                waiting.answer.cancel()
            raise
        for waiting, answer in zip(group, answers, strict=True):
            if not waiting.answer.done():  # (a request cancelled meanwhile has no one to answer)
                waiting.answer.set_result(answer)
