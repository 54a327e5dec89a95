"""Load-generating client processes: closed-loop batches, and open-loop single actions at a fixed rate.

Both run in processes forked from the bench, so the prebuilt bodies are shared, not copied or
pickled. They start together at an agreed `time.monotonic()` (system-wide on Linux) and report
through a multiprocessing queue: one message per batch, one summary per single-action client.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import orjson
import uvloop

from backend.bench.wire import ACTIONS_PATH, Connection, WireError
from partners.sdk import Credentials

HOST = "127.0.0.1"
BATCH_TIMEOUT_S = 120.0
SINGLE_TIMEOUT_S = 30.0
MAX_SINGLE_CONNECTIONS = 64  # per client process: beyond this, sends queue (and their latency shows it)
# uvicorn closes a keep-alive connection idle for 5 s; a request written to one just closed gets no
# answer (it was never read). A connection idle longer than this is replaced before it is used.
MAX_IDLE_S = 4.0
# An overloaded server must not stretch the phase without end: what could not even be sent by the
# end of the schedule plus this grace (at least 2 s, or a quarter of the schedule) is dropped.
SINGLE_GRACE_SHARE = 0.25


@dataclass(frozen=True)
class Target:
    """Where to send, and as whom: API ports (used in turn) and each partner kind's key."""

    ports: list[int]
    creds: dict[str, Credentials]


@dataclass
class BatchAnswer:
    """What one batch request came back with (status None: no HTTP answer at all)."""

    index: int
    status: int | None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    sent: float = 0.0
    done: float = 0.0
    problems: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def _tally(status: int, answer: bytes) -> tuple[int, int, int, Counter[str], str | None]:
    """accepted, duplicates, rejected, problem types of rejected items, and an error line for a non-202."""
    if status != 202:
        return 0, 0, 0, Counter(), f"HTTP {status}: {answer[:200].decode(errors='replace')}"
    doc: dict[str, Any] = orjson.loads(answer)
    problems: Counter[str] = Counter()
    if doc.get("rejected"):
        for item in doc["results"]:
            if item["status"] == "rejected":
                problems[str((item.get("problem") or {}).get("type", "unknown")).rsplit("/", 1)[-1]] += 1
    return int(doc["accepted"]), int(doc["duplicates"]), int(doc["rejected"]), problems, None


async def _fresh(idle: tuple[Connection, float], now: float) -> Connection:
    """The idle connection, unless the server may have closed it meanwhile (then a new one)."""
    conn, last_used = idle
    if now - last_used > MAX_IDLE_S:
        await conn.close()
        return Connection(conn.host, conn.port)
    return conn


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def batch_client(
    client: int,
    target: Target,
    bodies: list[tuple[str, bytes]],
    next_batch: Synchronized,  # type: ignore[type-arg]
    start_at: float,
    connections: int,
    results: Queue,  # type: ignore[type-arg]
) -> None:
    """Send batches (the next index from the shared counter) over `connections` lanes; None when done."""
    asyncio.run(_batches(client, target, bodies, next_batch, start_at, connections, results))
    results.put(None)


async def _batches(
    client: int,
    target: Target,
    bodies: list[tuple[str, bytes]],
    next_batch: Synchronized,  # type: ignore[type-arg]
    start_at: float,
    connections: int,
    results: Queue,  # type: ignore[type-arg]
) -> None:
    ports = target.ports
    lanes = [Connection(HOST, ports[(client * connections + n) % len(ports)]) for n in range(connections)]
    for conn in lanes:
        await conn.connect()
    _wait_until(start_at)

    def take() -> int:
        with next_batch.get_lock():
            index = int(next_batch.value)
            next_batch.value += 1
        return index

    async def lane(conn: Connection) -> None:
        while (index := take()) < len(bodies):
            kind, body = bodies[index]
            sent = time.monotonic()
            try:
                async with asyncio.timeout(BATCH_TIMEOUT_S):
                    status, answer = await conn.post_signed(target.creds[kind], ACTIONS_PATH, body)
            except (WireError, TimeoutError) as exc:
                await conn.close()
                results.put(BatchAnswer(index, None, sent=sent, done=time.monotonic(), error=repr(exc)))
                continue
            done = time.monotonic()
            accepted, duplicates, rejected, problems, error = _tally(status, answer)
            results.put(
                BatchAnswer(index, status, accepted, duplicates, rejected, sent, done, dict(problems), error)
            )
        await conn.close()

    await asyncio.gather(*(lane(conn) for conn in lanes))


def single_client(
    client: int,
    clients: int,
    target: Target,
    bodies: list[tuple[str, bytes]],
    start_at: float,
    rate: float,
    results: Queue,  # type: ignore[type-arg]
) -> None:
    """Send bodies client, client + clients, … each at `start_at + i / rate`, whatever the answers do
    (open loop); put one summary with every latency, measured from the scheduled moment. Requests
    still waiting for a connection after the schedule's end plus a grace are dropped, unsent."""
    # uvloop: the clients share the two cores with what they measure, and a request through
    # asyncio's own loop cost about twice the CPU.
    results.put(uvloop.run(_open_loop(client, clients, target, bodies, start_at, rate)))


async def _open_loop(
    client: int, clients: int, target: Target, bodies: list[tuple[str, bytes]], start_at: float, rate: float
) -> dict[str, Any]:
    port = target.ports[client % len(target.ports)]
    opened = [Connection(HOST, port) for _ in range(max(2, int(rate / clients / 100)))]
    for conn in opened:
        await conn.connect()
    idle = [(conn, time.monotonic()) for conn in opened]
    slots = asyncio.Semaphore(MAX_SINGLE_CONNECTIONS)
    latency: list[float] = []  # from the moment the request was due (open-loop latency)
    service: list[float] = []  # from the moment it was actually written
    statuses: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    counts = Counter[str]()
    errors: list[str] = []
    max_lag = 0.0
    schedule = len(bodies) / rate
    send_by = start_at + schedule + max(2.0, SINGLE_GRACE_SHARE * schedule)

    async def one(index: int, due: float) -> None:
        async with slots:
            if time.monotonic() > send_by:
                counts["dropped"] += 1
                return
            kind, body = bodies[index]
            sent = time.monotonic()
            conn = await _fresh(idle.pop(), sent) if idle else Connection(HOST, port)
            try:
                async with asyncio.timeout(SINGLE_TIMEOUT_S):
                    status, answer = await conn.post_signed(target.creds[kind], ACTIONS_PATH, body)
            except (WireError, TimeoutError) as exc:
                await conn.close()
                statuses["no-answer"] += 1
                if len(errors) < 5:
                    errors.append(repr(exc))
                return
            done = time.monotonic()
            idle.append((conn, done))
        latency.append(done - due)
        service.append(done - sent)
        statuses[str(status)] += 1
        accepted, duplicates, rejected, kinds, error = _tally(status, answer)
        counts.update(accepted=accepted, duplicates=duplicates, rejected=rejected)
        problems.update(kinds)
        if error and len(errors) < 5:
            errors.append(error)

    tasks: set[asyncio.Task[None]] = set()
    _wait_until(start_at)
    for index in range(client, len(bodies), clients):
        due = start_at + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.monotonic() - due)
        task = asyncio.create_task(one(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for conn, _ in idle:
        await conn.close()
    return {
        "client": client,
        "requests": len(range(client, len(bodies), clients)),
        "dropped": counts["dropped"],
        "latency": latency,
        "service": service,
        "statuses": dict(statuses),
        "problems": dict(problems),
        "accepted": counts["accepted"],
        "duplicates": counts["duplicates"],
        "rejected": counts["rejected"],
        "errors": errors,
        "max_schedule_lag_s": max_lag,
        "finished": time.monotonic(),
    }
