"""Redis for the hot path's short commands: one connection per process, shared, pipelined.

redis-py's asyncio client costs ~85–105 µs of CPU a command here: a pooled connection is taken
and given back under an ``asyncio.Condition`` and a timeout, with observability hooks and command
dispatch around it. Written to one connection directly, with hiredis packing and parsing in C, a
command costs ~20 µs (performance.md). A single action makes two such calls (its nonce, its
publish) and a settlement round several, so those go here. Concurrent callers share the
connection: their commands leave in one write per turn of the event loop, and Redis answers
them in order.

Only commands that answer at once belong here: a blocking read (``XREADGROUP … BLOCK``) would
hold up every command behind it, so those stay on redis-py, as do pub/sub and ``MULTI``. Errors
are redis-py's: an error reply raises ``ResponseError``; a lost connection raises
``ConnectionError`` in every command waiting on it (it may have run: the caller decides whether
repeating it is safe), and the next command connects anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeAlias

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError

Arg: TypeAlias = bytes | str | int | float
Command: TypeAlias = Sequence[Arg]


class Script:
    """A Lua script, run by its SHA-1 (``EVALSHA``) and sent whole only when Redis lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class HotRedis:
    """The process's connection for short commands, made on first use (in the running loop)."""

    def __init__(self, url: str) -> None:
        options = parse_url(url)
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port: int = int(options.get("port", 6379))
        self._tls = options.get("connection_class") is SSLConnection
        self._handshake: list[Command] = []
        if options.get("password") is not None:
            username = options.get("username")
            self._handshake.append(
                ("AUTH", username, options["password"]) if username else ("AUTH", options["password"])
            )
        if options.get("db"):
            self._handshake.append(("SELECT", int(options["db"])))
        self._wire: _Wire | None = None
        self._connecting: asyncio.Future[_Wire] | None = None

    async def execute(self, *args: Arg) -> Any:
        """One command's reply."""
        wire = await self._connected()
        return await wire.send(hiredis.pack_command(args), 1)[0]

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """The replies of ``commands``, sent together; the first error reply is raised once all
        have arrived (every command ran or failed on its own, as in a redis-py pipeline)."""
        if not commands:
            return []
        wire = await self._connected()
        packed = b"".join(hiredis.pack_command(tuple(c)) for c in commands)
        replies = await asyncio.gather(*wire.send(packed, len(commands)), return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies

    async def script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """``script``'s reply for ``keys`` and ``args``."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # Redis restarted, or its scripts were flushed: EVAL runs the source and caches it again.
        return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def aclose(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close()

    async def _connected(self) -> _Wire:
        wire = self._wire
        loop = asyncio.get_running_loop()
        if wire is not None and wire.lost is None and wire.loop is loop:
            return wire
        connecting = self._connecting
        if connecting is None or connecting.get_loop() is not loop:
            connecting = self._connecting = loop.create_future()
            try:
                wire = await self._connect(loop)
            except BaseException as exc:
                self._connecting = None
                connecting.set_exception(exc)
                connecting.exception()  # retrieved: only the callers that wait on it see it
                raise
            if self._wire is not None:
                self._wire.close()
            self._wire, self._connecting = wire, None
            connecting.set_result(wire)
            return wire
        return await asyncio.shield(connecting)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Wire:
        try:
            if self._path is not None:
                _, wire = await loop.create_unix_connection(_Wire, self._path)
            else:
                context = ssl.create_default_context() if self._tls else None
                _, wire = await loop.create_connection(_Wire, self._host, self._port, ssl=context)
        except OSError as exc:
            where = self._path or f"{self._host}:{self._port}"
            raise RedisConnectionError(f"Error connecting to Redis at {where}: {exc}") from exc
        try:
            for command in self._handshake:
                await wire.send(hiredis.pack_command(tuple(command)), 1)[0]
        except BaseException:
            wire.close()
            raise
        return wire


class _Wire(asyncio.Protocol):
    """One connection: commands written in order, each reply given to the oldest waiting caller."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.lost: RedisConnectionError | None = None
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes, replies: int) -> list[asyncio.Future[Any]]:
        """Queue ``packed`` (``replies`` commands) for this turn's write: the futures of their replies."""
        if self.lost is not None:
            raise self.lost
        futures = [self.loop.create_future() for _ in range(replies)]
        self._waiting.extend(futures)
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(packed)
        return futures

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and self.lost is None:
            self._transport.writelines(out)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                waiter = self._waiting.popleft()
                if waiter.done():  # its caller was cancelled: the reply is dropped, the order kept
                    continue
                if isinstance(reply, ResponseError):
                    waiter.set_exception(reply)
                else:
                    waiter.set_result(reply)
        except (InvalidResponse, IndexError) as exc:  # not RESP, or a reply nobody asked for
            self._fail(RedisConnectionError(f"Redis connection out of step: {exc!r}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(
            RedisConnectionError(f"Connection to Redis lost: {exc}" if exc else "Redis closed the connection")
        )

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is closed already
                self._transport.close()
        self._fail(RedisConnectionError("connection closed by the platform"))

    def _fail(self, error: RedisConnectionError) -> None:
        if self.lost is None:
            self.lost = error
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)
