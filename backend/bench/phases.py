"""The measured phases: batches through intake, waiting for settlement, single actions at a rate.

Each phase forks its client processes before it starts a progress bar (so no thread of ours is
copied into a child), samples the platform's memory as it goes, and returns a plain dict for the JSON.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from rich.console import Console

from backend.bench.clients import BatchAnswer, Target, batch_client, single_client
from backend.bench.cpu import CpuMeter, Snapshot
from backend.bench.database import count_outcomes, outcomes_fenced
from backend.bench.errors import PlatformFailed
from backend.bench.processes import Proc, check_alive
from backend.bench.stats import latency_summary, rate
from backend.bench.ui import progress

CTX = multiprocessing.get_context("fork")
START_DELAY_S = 1.0  # clients connect, then all start at once
# The wait ends at the first poll that sees every outcome: on average half a period after the
# last one was written. At 0.25 s that was ~2 % of a 100-batch run's settled time.
SETTLE_POLL_S = 0.02
SETTLE_STALL_S = 60.0  # no new outcome for this long: settlement is not running, stop waiting
MILESTONES = (0.25, 0.5, 0.75, 1.0)


class Monitor:
    """The platform's memory (RSS at named milestones, and a timeline sampled about once a second)
    and where the CPU goes (snapshots to compare)."""

    def __init__(self, procs: list[Proc], clock_zero: float, cpu: CpuMeter) -> None:
        self.procs, self.zero, self.cpu = procs, clock_zero, cpu
        self.milestones: dict[str, dict[str, float | None]] = {p.name: {} for p in procs}
        self.timeline: list[dict[str, Any]] = []
        self._last = 0.0

    def mark(self, milestone: str) -> None:
        for proc in self.procs:
            self.milestones[proc.name][milestone] = proc.rss_mb()

    def tick(self, phase: str) -> None:
        now = time.monotonic()
        if now - self._last >= 1.0:
            self._last = now
            sample = {p.name: p.rss_mb() for p in self.procs}
            self.timeline.append({"t": round(now - self.zero, 1), "phase": phase, "rss_mb": sample})

    def snapshot(self) -> Snapshot:
        return self.cpu.snapshot()

    def cores_since(self, before: Snapshot) -> dict[str, float | None]:
        return CpuMeter.cores(before, self.cpu.snapshot())


def drive_batches(
    target: Target,
    bodies: list[tuple[str, bytes]],
    clients: int,
    connections: int,
    platform: list[Proc],
    monitor: Monitor,
    console: Console,
) -> dict[str, Any]:
    """Send every batch once, `clients` processes × `connections` concurrent requests; the intake figures."""
    results = CTX.Queue()
    next_batch = CTX.Value("q", 0)
    start_at = time.monotonic() + START_DELAY_S
    procs = [
        CTX.Process(
            target=batch_client,
            args=(c, target, bodies, next_batch, start_at, connections, results),
            name=f"bench-batches-{c}",
            daemon=True,
        )
        for c in range(clients)
    ]
    for proc in procs:
        proc.start()
    answers: list[BatchAnswer] = []
    finished, accepted, marks = 0, 0, list(MILESTONES)
    with _stopping(procs), progress(console) as bar:
        task = bar.add_task("intake batches", total=len(bodies), note="")
        time.sleep(max(0.0, start_at - time.monotonic()))
        monitor.mark("batches_0%")
        cpu_before = monitor.snapshot()
        while finished < clients:
            try:
                answer = results.get(timeout=0.5)
            except queue.Empty:
                _check(platform, procs)
                monitor.tick("batches")
                continue
            if answer is None:
                finished += 1
                continue
            answers.append(answer)
            accepted += answer.accepted
            while marks and len(answers) >= math.ceil(marks[0] * len(bodies)):
                monitor.mark(f"batches_{marks.pop(0):.0%}")
            seconds = time.monotonic() - start_at
            bar.update(task, completed=len(answers), note=f"{accepted / max(seconds, 1e-9):,.0f} actions/s")
            monitor.tick("batches")
    for proc in procs:
        proc.join()
    return {**_intake_summary(answers, start_at, len(bodies)), "cpu_cores": monitor.cores_since(cpu_before)}


@contextlib.contextmanager
def _stopping(clients: list[Any]) -> Iterator[None]:
    """Client processes that are still running when the phase fails are terminated, not awaited."""
    try:
        yield
    except BaseException:
        for client in clients:
            if client.is_alive():
                client.terminate()
        raise


def _check(platform: list[Proc], clients: list[Any]) -> None:
    check_alive(platform)
    dead = [c for c in clients if c.exitcode not in (None, 0)]
    if dead:
        raise PlatformFailed(f"client process {dead[0].name} exited with code {dead[0].exitcode}")


def _intake_summary(answers: list[BatchAnswer], start_at: float, batches: int) -> dict[str, Any]:
    last = max((a.done for a in answers), default=start_at)
    seconds = last - start_at
    problems: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for a in answers:
        problems.update(a.problems)
        statuses[str(a.status) if a.status is not None else "no-answer"] += 1
    accepted = sum(a.accepted for a in answers)
    return {
        "batches": batches,
        "answered": sum(1 for a in answers if a.status == 202),
        "statuses": dict(statuses),
        "accepted": accepted,
        "duplicates": sum(a.duplicates for a in answers),
        "rejected": sum(a.rejected for a in answers),
        "problems": dict(problems),
        "errors": [a.error for a in answers if a.error][:5],
        "seconds": round(seconds, 3),
        "actions_per_s": rate(accepted, seconds),
        "batches_per_s": rate(len(answers), seconds),
        "batch_latency_ms": latency_summary([a.done - a.sent for a in answers if a.status is not None]),
        "_start_at": start_at,  # monotonic; the settle phase measures from it (dropped from the JSON)
    }


def wait_settled(
    connect: Callable[[], psycopg.Connection[Any]],
    expected: int,
    since: float,
    timeout_s: float,
    platform: list[Proc],
    monitor: Monitor,
    console: Console,
    label: str = "settlement",
) -> dict[str, Any]:
    """Poll the outcomes until there are `expected`; seconds are counted from `since` (monotonic).

    Gives up after `timeout_s`, or after SETTLE_STALL_S without a new outcome: `settled` is then false.
    """
    began, cpu_before = time.monotonic(), monitor.snapshot()
    stall = min(timeout_s, SETTLE_STALL_S)

    def outcome(settled: bool, reason: str, count: int | None, seconds: float | None) -> dict[str, Any]:
        return {
            "settled": settled,
            "reason": reason,
            "expected": expected,
            "outcomes": count,
            "seconds": None if seconds is None else round(seconds, 3),
            "waited_s": round(time.monotonic() - began, 3),
            "cpu_cores_while_waiting": monitor.cores_since(cpu_before),
        }

    last_count, last_change = -1, began
    with connect() as conn, progress(console) as bar:
        task = bar.add_task(label, total=expected, note="")
        while True:
            count = outcomes_fenced(conn)
            now = time.monotonic()
            if count is not None and count >= expected:
                count = count_outcomes(conn)  # what the result reports is counted, not summed
            monitor.tick("settle")
            if count is None:
                return outcome(False, "no outcomes table", None, None)
            bar.update(task, completed=count)
            if count >= expected:
                reason = "settled" if count == expected else "more outcomes than accepted actions"
                return outcome(count == expected, reason, count, now - since)
            if count != last_count:
                last_count, last_change = count, now
            if now - began >= timeout_s:
                return outcome(False, f"timeout after {timeout_s:g} s", count, None)
            if now - last_change >= stall:
                return outcome(False, f"no new outcome for {stall:g} s", count, None)
            check_alive(platform)
            time.sleep(SETTLE_POLL_S)


def drive_singles(
    target: Target,
    bodies: list[tuple[str, bytes]],
    clients: int,
    target_rate: float,
    platform: list[Proc],
    monitor: Monitor,
    console: Console,
) -> dict[str, Any]:
    """One-action requests at `target_rate` in total (open loop, from `clients` processes); latencies."""
    results = CTX.Queue()
    start_at = time.monotonic() + START_DELAY_S
    procs = [
        CTX.Process(
            target=single_client,
            args=(c, clients, target, bodies, start_at, target_rate, results),
            name=f"bench-singles-{c}",
            daemon=True,
        )
        for c in range(clients)
    ]
    for proc in procs:
        proc.start()
    summaries: list[dict[str, Any]] = []
    seconds = len(bodies) / target_rate
    with _stopping(procs), progress(console) as bar:
        task = bar.add_task("single actions", total=len(bodies), note=f"{target_rate:g} req/s")
        time.sleep(max(0.0, start_at - time.monotonic()))
        cpu_before = monitor.snapshot()
        while len(summaries) < clients:
            try:
                summaries.append(results.get(timeout=0.5))
            except queue.Empty:
                _check(platform, procs)
            elapsed = time.monotonic() - start_at
            bar.update(task, completed=min(len(bodies), max(0, int(elapsed * target_rate))))
            monitor.tick("single")
    for proc in procs:
        proc.join()
    latency = [x for s in summaries for x in s["latency"]]
    service = [x for s in summaries for x in s["service"]]
    statuses: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    for s in summaries:
        statuses.update(s["statuses"])
        problems.update(s["problems"])
    finished = max(s["finished"] for s in summaries)
    accepted = sum(s["accepted"] for s in summaries)
    dropped = sum(s["dropped"] for s in summaries)
    return {
        "target_rate": target_rate,
        "scheduled_seconds": round(seconds, 3),
        "seconds": round(finished - start_at, 3),
        "requests": len(bodies),
        "sent": len(bodies) - dropped,
        "dropped": dropped,  # never sent: the client's backlog outlived the schedule (server overloaded)
        "answered": sum(statuses.values()) - statuses.get("no-answer", 0),
        "statuses": dict(statuses),
        "accepted": accepted,
        "duplicates": sum(s["duplicates"] for s in summaries),
        "rejected": sum(s["rejected"] for s in summaries),
        "problems": dict(problems),
        "errors": [e for s in summaries for e in s["errors"]][:5],
        "achieved_rate": rate(len(latency), finished - start_at),  # answered requests per second
        "latency_ms": latency_summary(latency),
        "service_ms": latency_summary(service),
        "max_schedule_lag_ms": round(max(s["max_schedule_lag_s"] for s in summaries) * 1000, 3),
        "cpu_cores": monitor.cores_since(cpu_before),
    }
