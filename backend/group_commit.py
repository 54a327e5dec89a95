"""Group commit: concurrent requests share one statement (or one Redis pipeline).

While one flush is in flight, the requests that arrive queue up; the next flush takes them all at
once. Nothing waits on a timer: an idle server flushes a lone request at once, and a busy one
coalesces as many as arrived during the previous round trip (each round trip costs ~0.1 ms of
Python, and a statement a commit of PostgreSQL, whatever it carries).
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
    """``submit(item)`` answers ``flush([..., item, ...])[i]``, flushing one group at a time.

    Items whose ``keys`` meet are never in one group (a later one waits for the next), and a group
    holds at most ``max_size`` in total ``size``. A flush that raises one of ``alone_on`` (what an
    item can cause) is retried item by item, so a bad item fails its own request only; any other
    error (a pool timeout, a lost connection) fails the whole group at once.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[list[R]]],
        keys: Callable[[T], Iterable[Hashable]],
        size: Callable[[T], int],
        max_size: int,
        alone_on: tuple[type[Exception], ...] = (),
    ) -> None:
        self._flush, self._keys, self._size, self.max_size = flush, keys, size, max_size
        self._alone_on = alone_on
        self._queue: list[_Waiting[T, R]] = []
        self._flushing = False

    async def submit(self, item: T) -> R:
        waiting = _Waiting(
            item, frozenset(self._keys(item)), self._size(item), asyncio.get_running_loop().create_future()
        )
        self._queue.append(waiting)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._drain())
        return await waiting.answer

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._run(self._take())
        except BaseException:  # cancelled (the loop is closing): nobody will answer the rest
            for waiting in self._queue:
                waiting.answer.cancel()
            self._queue = []
            raise
        finally:
            self._flushing = False

    def _take(self) -> list[_Waiting[T, R]]:
        group: list[_Waiting[T, R]] = []
        seen: set[Hashable] = set()
        size = 0
        later = []
        for waiting in self._queue:
            if group and (size + waiting.size > self.max_size or not seen.isdisjoint(waiting.keys)):
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
