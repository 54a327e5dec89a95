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


class InFlight(Recorder):
    """Records how many flushes, and which keys, were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now: list[set[str]] = []
        self.most = 0
        self.overlapping_keys: set[str] = set()

    async def flush(self, items: list[str]) -> list[str]:
        keys = {item[0] for item in items}
        for other in self.now:
            self.overlapping_keys |= keys & other
        self.now.append(keys)
        self.most = max(self.most, len(self.now))
        try:
            return await super().flush(items)
        finally:
            self.now.remove(keys)


class TestConcurrentFlushes:
    def commit(self, recorder: Recorder, concurrency: int, max_size: int = 100) -> GroupCommit[str, str]:
        return GroupCommit(
            recorder.flush, keys=lambda item: (item[0],), size=lambda _: 1, max_size=max_size,
            alone_on=(ValueError,), concurrency=concurrency,
        )  # fmt: skip

    @pytest.mark.parametrize("concurrency", [1, 2, 3])
    async def test_at_most_that_many_flushes_are_in_flight(self, concurrency):
        recorder = InFlight()
        commit = self.commit(recorder, concurrency, max_size=2)
        items = [f"{key}{n}" for n in range(4) for key in "abcdefgh"]
        assert await asyncio.gather(*(commit.submit(i) for i in items)) == [i.upper() for i in items]
        assert recorder.most == concurrency

    async def test_a_key_is_never_in_two_flushes_in_flight_and_keeps_its_order(self):
        recorder = InFlight()
        commit = self.commit(recorder, 2)

        async def submit_later(item: str, delay: float) -> str:
            await asyncio.sleep(delay)
            return await commit.submit(item)

        items = [(f"{key}{n}", n * 0.004) for n in range(6) for key in "abc"]
        await asyncio.gather(*(submit_later(i, d) for i, d in items))
        assert recorder.overlapping_keys == set()
        flushed = [i for f in recorder.flushes for i in f]
        for key in "abc":
            assert [i for i in flushed if i[0] == key] == [f"{key}{n}" for n in range(6)]

    async def test_items_waiting_on_a_key_in_flight_are_answered_when_it_is_done(self):
        recorder = InFlight()
        commit = self.commit(recorder, 2)
        first = asyncio.ensure_future(commit.submit("a1"))
        while not recorder.flushes:
            await asyncio.sleep(0)
        # b1 takes the second slot; a2 waits for a1's flush, and no runner is left idle with it.
        rest = await asyncio.gather(commit.submit("a2"), commit.submit("b1"))
        assert (await first, rest) == ("A1", ["A2", "B1"])

    def test_concurrency_below_one_is_refused(self):
        with pytest.raises(ValueError):
            self.commit(Recorder(), 0)
