"""The hot path's Redis connection (``backend.redis_hot``) against real Redis servers: replies as
redis-py gives them, order kept under concurrency and cancellation, errors, lost connections,
restarts, scripts Redis has forgotten, and the URL forms the platform accepts."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from backend.embedded_redis import EmbeddedRedis
from backend.redis_hot import HotRedis, Script
from tests.conftest import BACKEND, REDIS_URL

INCR_BY = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis server of this test alone (a Unix socket), to flush, kill and restart."""
    server = EmbeddedRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
async def shared_url() -> str:
    """The Redis the suite runs against: TCP on CI, the embedded server's socket otherwise."""
    if BACKEND == "embedded":
        pytest.skip("the TCP URL forms need the suite's Redis at TANHUI_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
async def hot(own_server: EmbeddedRedis) -> AsyncIterator[HotRedis]:
    client = HotRedis(own_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def plain(own_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(own_server.url)
    yield client
    await client.aclose()


class TestReplies:
    async def test_replies_are_what_redis_py_returns(self, hot: HotRedis, plain: aioredis.Redis) -> None:
        assert await hot.execute("SET", "k", b"v\x00\xff", "EX", 60) == b"OK"
        assert await hot.execute("GET", "k") == await plain.get("k") == b"v\x00\xff"
        assert await hot.execute("GET", "absent") is None
        assert await hot.execute("SET", "k", "other", "NX") is None  # not set: nil, as redis-py
        assert await hot.execute("MGET", "k", "absent") == [b"v\x00\xff", None]
        assert await hot.execute("INCRBY", "n", 7) == 7
        entry = await hot.execute("XADD", "s", "*", b"a", b"1")
        assert (await plain.xrange("s"))[0][0] == entry

    async def test_an_error_reply_raises_and_the_connection_stays_in_step(self, hot: HotRedis) -> None:
        await hot.execute("SET", "text", "abc")
        with pytest.raises(ResponseError, match="not an integer"):
            await hot.execute("INCR", "text")
        assert await hot.execute("GET", "text") == b"abc"

    async def test_a_pipeline_answers_in_order_and_raises_the_first_error_after_all_ran(
        self, hot: HotRedis, plain: aioredis.Redis
    ) -> None:
        assert await hot.pipeline([("SET", "a", 1), ("INCR", "a"), ("GET", "a")]) == [b"OK", 2, b"2"]
        with pytest.raises(ResponseError, match=r"WRONGTYPE|not an integer"):
            await hot.pipeline([("SET", "b", "x"), ("INCR", "b"), ("SET", "c", "after")])
        assert await plain.get("c") == b"after"  # the command after the failing one ran
        assert await hot.pipeline([]) == []


class TestConcurrency:
    async def test_concurrent_callers_each_get_their_own_reply(self, hot: HotRedis) -> None:
        await hot.pipeline([("SET", f"key:{i}", i) for i in range(500)])
        replies = await asyncio.gather(*(hot.execute("GET", f"key:{i}") for i in range(500)))
        assert replies == [str(i).encode() for i in range(500)]

    async def test_a_cancelled_caller_does_not_shift_the_replies_of_the_others(self, hot: HotRedis) -> None:
        # BLPOP holds the connection for 0.3 s: the GET queued behind it must get its own reply,
        # not the BLPOP's, after the BLPOP's caller gave up.
        await hot.execute("SET", "after", "mine")
        blocked = asyncio.ensure_future(hot.execute("BLPOP", "empty-list", 0.3))
        queued = asyncio.ensure_future(hot.execute("GET", "after"))
        await asyncio.sleep(0.05)
        blocked.cancel()
        assert await queued == b"mine"
        assert await hot.execute("ECHO", "next") == b"next"

    async def test_one_connection_serves_every_caller(self, hot: HotRedis, plain: aioredis.Redis) -> None:
        await hot.execute("PING")
        before = (await plain.info("stats"))["total_connections_received"]
        await asyncio.gather(*(hot.execute("PING") for _ in range(200)))
        assert (await plain.info("stats"))["total_connections_received"] == before


class TestScripts:
    async def test_a_script_runs_by_its_sha_and_again_after_redis_forgets_it(
        self, hot: HotRedis, plain: aioredis.Redis
    ) -> None:
        assert await hot.script(INCR_BY, ["counter"], [5]) == 5
        assert await plain.script_exists(INCR_BY.sha) == [True]
        await plain.script_flush()
        assert await hot.script(INCR_BY, ["counter"], [2]) == 7  # NOSCRIPT: sent whole
        assert await hot.script(INCR_BY, ["counter"], [1]) == 8

    async def test_a_script_error_is_raised(self, hot: HotRedis) -> None:
        with pytest.raises(ResponseError):
            await hot.script(Script("return redis.call('NOSUCHCOMMAND')"), [], [])


class TestLostConnections:
    async def test_commands_in_flight_fail_and_the_next_command_reconnects(
        self, hot: HotRedis, plain: aioredis.Redis
    ) -> None:
        await hot.execute("CLIENT", "SETNAME", "hot-under-test")
        waiting = asyncio.ensure_future(hot.execute("BLPOP", "never", 5))
        await asyncio.sleep(0.05)
        assert await plain.client_kill_filter(_type="normal", skipme=True) >= 1
        with pytest.raises(RedisConnectionError):
            await waiting
        assert await hot.execute("ECHO", "again") == b"again"

    async def test_a_restarted_server_is_reached_again(
        self, own_server: EmbeddedRedis, hot: HotRedis
    ) -> None:
        assert await hot.execute("SET", "kept", "yes") == b"OK"
        own_server.stop()
        with pytest.raises(RedisConnectionError):
            await hot.execute("GET", "kept")
        own_server.start()
        assert await hot.execute("PING") == b"PONG"

    async def test_no_server_is_a_connection_error(self, tmp_path: Path) -> None:
        client = HotRedis(f"unix://{tmp_path / 'nobody.sock'}")
        with pytest.raises(RedisConnectionError, match=r"nobody\.sock"):
            await client.execute("PING")
        await client.aclose()

    async def test_every_caller_sees_a_failed_connection_attempt(self, tmp_path: Path) -> None:
        client = HotRedis(f"unix://{tmp_path / 'nobody.sock'}")
        results = await asyncio.gather(*(client.execute("PING") for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results)


class TestUrls:
    async def test_the_database_of_the_url_is_selected(self, shared_url: str) -> None:
        base = shared_url.rsplit("/", 1)[0]
        key = f"tanhui_test_hot:{secrets.token_hex(4)}"
        hot, db3 = HotRedis(f"{base}/3"), aioredis.Redis.from_url(f"{base}/3")
        try:
            await hot.execute("SET", key, "in-3", "EX", 60)
            assert await db3.get(key) == b"in-3"
        finally:
            await db3.delete(key)
            await hot.aclose()
            await db3.aclose()

    async def test_a_password_in_the_url_is_sent_first(self, tmp_path: Path) -> None:
        with _password_server(tmp_path, "s3cret") as port:
            hot = HotRedis(f"redis://:s3cret@127.0.0.1:{port}/0")
            assert await hot.execute("PING") == b"PONG"
            await hot.aclose()
            wrong = HotRedis(f"redis://:wrong@127.0.0.1:{port}/0")
            with pytest.raises(ResponseError, match=r"WRONGPASS|invalid password"):
                await wrong.execute("PING")
            await wrong.aclose()


@contextlib.contextmanager
def _password_server(tmp_path: Path, password: str) -> Iterator[int]:
    """A redis-server on a free port that wants ``password``: its port."""
    binary = shutil.which("redis-server") or pytest.skip("no redis-server on PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    args = [binary, "--port", str(port), "--requirepass", password, "--save", "", "--dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
