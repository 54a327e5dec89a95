"""Where the CPU went during a phase: each platform process, the bench database's PostgreSQL
backends, Redis, the load generator, and the whole machine (others' work included), from /proc.

Reported as cores used on average over the phase (1.0 = one core busy the whole time).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
# PostgreSQL's own processes, shared by every database (WAL, checkpoints, vacuum)
STOLEN = "stolen by the hypervisor"  # cores the hypervisor gave to other machines meanwhile
PG_SHARED = (": walwriter", ": checkpointer", ": background writer", ": autovacuum", ": walsender")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of stat)


def _matching_cpu_s(*needles: str, any_of: tuple[str, ...] = ("",)) -> float:
    """CPU seconds of every process whose command line contains all `needles` and one of `any_of`."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmdline for n in needles) and any(a in cmdline for a in any_of):
            total += process_cpu_s(int(entry.name)) or 0.0
    return total


def _machine_busy_s() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of all cores since boot: stolen is time a hypervisor gave to others."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


@dataclass(frozen=True)
class Snapshot:
    at: float
    procs: dict[str, float | None]
    postgres: float
    postgres_shared: float
    redis: float
    clients: float
    machine: tuple[float, float]


class CpuMeter:
    """Snapshots of CPU use by the bench's platform, its database, Redis and its clients."""

    def __init__(self, procs: dict[str, int], database: str, redis_port: int) -> None:
        self.procs, self.database, self.redis_port = procs, database, redis_port

    def snapshot(self) -> Snapshot:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # clients that were joined
        return Snapshot(
            at=time.monotonic(),
            procs={name: process_cpu_s(pid) for name, pid in self.procs.items()},
            postgres=_matching_cpu_s("postgres:", f" {self.database} "),
            postgres_shared=_matching_cpu_s("postgres:", any_of=PG_SHARED),
            redis=_matching_cpu_s("redis-server", f":{self.redis_port}"),
            clients=children.ru_utime + children.ru_stime,
            machine=_machine_busy_s(),
        )

    @staticmethod
    def cores(before: Snapshot, after: Snapshot) -> dict[str, float | None]:
        """Average cores used between two snapshots, by consumer; `other` is the machine's rest."""
        wall = max(after.at - before.at, 1e-9)

        def used(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) / wall, 2)

        result = {name: used(before.procs[name], after.procs.get(name)) for name in before.procs}
        result["postgres (bench db backends)"] = used(before.postgres, after.postgres)
        result["postgres (shared processes)"] = used(before.postgres_shared, after.postgres_shared)
        result["redis"] = used(before.redis, after.redis)
        result["load generator"] = used(before.clients, after.clients)
        ours = sum(v for v in result.values() if v is not None)
        machine = round((after.machine[0] - before.machine[0]) / wall, 2)
        result["other processes"] = round(max(0.0, machine - ours), 2)
        result["machine (all cores)"] = machine
        result[STOLEN] = round((after.machine[1] - before.machine[1]) / wall, 2)
        return result
