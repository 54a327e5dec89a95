"""GroupCommit: concurrent submissions share flushes, never with a key twice, and fail alone."""

from __future__ import annotations

import asyncio

import pytest

from backend.group_commit import GroupCommit


class Recorder:
    def __init__(self, bad: str | None = None) -> None:
        self.flushes: list[list[str]] = []
        self.bad = bad
        self.down = False

    async def flush(self, items: list[str]) -> list[str]:
        self.flushes.append(list(items))
        await asyncio.sleep(0.01)  # a round trip: what arrives meanwhile waits for the next flush
        if self.bad in items:
            raise ValueError(f"bad item {self.bad}")
        if self.down:
            raise ConnectionError("the database is down")
        return [item.upper() for item in items]


def group(recorder: Recorder, max_size: int = 100) -> GroupCommit[str, str]:
    return GroupCommit(
        recorder.flush,
        keys=lambda item: (item[0],),
        size=lambda _: 1,
        max_size=max_size,
        alone_on=(ValueError,),
    )


class TestGroupCommit:
    async def test_a_lone_item_is_flushed_at_once_and_answered(self):
        recorder = Recorder()
        assert await group(recorder).submit("a1") == "A1"
        assert recorder.flushes == [["a1"]]

    async def test_items_arriving_during_a_flush_share_the_next_one(self):
        recorder = Recorder()
        commit = group(recorder)
        first = asyncio.ensure_future(commit.submit("a1"))
        while not recorder.flushes:  # the first flush is under way
            await asyncio.sleep(0)
        later = await asyncio.gather(*(commit.submit(item) for item in ("b1", "c1", "d1")))
        assert (await first, later) == ("A1", ["B1", "C1", "D1"])
        assert recorder.flushes == [["a1"], ["b1", "c1", "d1"]]

    async def test_items_with_a_common_key_are_never_flushed_together(self):
        recorder = Recorder()
        commit = group(recorder)
        await asyncio.gather(*(commit.submit(item) for item in ("a1", "b1", "a2", "c1", "a3")))
        for flush in recorder.flushes:
            keys = [item[0] for item in flush]
            assert len(keys) == len(set(keys))
        assert sorted(i for f in recorder.flushes for i in f) == ["a1", "a2", "a3", "b1", "c1"]

    async def test_a_group_holds_at_most_max_size(self):
        recorder = Recorder()
        commit = group(recorder, max_size=2)
        await asyncio.gather(*(commit.submit(item) for item in ("a1", "b1", "c1", "d1", "e1")))
        assert max(len(f) for f in recorder.flushes) <= 2

    async def test_a_failing_flush_is_retried_item_by_item_and_fails_only_the_bad_item(self):
        recorder = Recorder(bad="c1")
        commit = group(recorder)
        results = await asyncio.gather(
            *(commit.submit(item) for item in ("a1", "b1", "c1", "d1")), return_exceptions=True
        )
        assert results[:2] == ["A1", "B1"] and results[3] == "D1"
        assert isinstance(results[2], ValueError)
        with pytest.raises(ValueError):
            await commit.submit("c1")  # and the group still serves later submissions
        assert await commit.submit("e1") == "E1"

    async def test_an_error_no_item_caused_fails_the_whole_group_at_once(self):
        recorder = Recorder()
        recorder.down = True
        commit = group(recorder)
        results = await asyncio.gather(
            *(commit.submit(item) for item in ("a1", "b1", "c1")), return_exceptions=True
        )
        assert all(isinstance(r, ConnectionError) for r in results)
        assert recorder.flushes == [["a1", "b1", "c1"]]  # not retried one by one
