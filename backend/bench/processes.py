"""The platform under test as real processes: `tanhui serve` (API) and `tanhui worker` (settlement).

Each process gets the bench's environment (its database, a Redis prefix of its own, generated
secrets) and logs to a file in the run directory. Memory is read from /proc: VmRSS now, VmHWM the peak.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

from backend.bench import calibrate
from backend.bench.errors import PlatformFailed

STOP_GRACE_S = 15.0


@dataclass
class Proc:
    """One started process of the platform."""

    name: str  # api-0, worker-1, …
    role: str  # api | worker
    popen: subprocess.Popen[bytes]
    log: Path
    _log_file: IO[bytes] = field(repr=False)
    port: int | None = None
    peak_rss_mb: float | None = None  # VmHWM, read just before stopping

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_mb(self) -> float | None:
        return _status_mb(self.pid, "VmRSS")

    def hwm_mb(self) -> float | None:
        return _status_mb(self.pid, "VmHWM")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _status_mb(pid: int, field_name: str) -> float | None:
    """A `VmXxx: N kB` line of /proc/<pid>/status, in MB; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(name: str, role: str, args: list[str], env: Mapping[str, str], run_dir: Path) -> Proc:
    """`python -m backend <args>` with `env`, its output in `<run_dir>/<name>.log`."""
    log = run_dir / f"{name}.log"
    log_file = open(log, "wb")  # noqa: SIM115 - closed in stop(), after the process
    popen = subprocess.Popen(
        [sys.executable, "-m", "backend", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C of the bench reaches us, and we stop them in order
    )
    port = int(env["TANHUI_PORT"]) if role == "api" else None
    return Proc(name, role, popen, log, log_file, port)


def wait_ready(procs: list[Proc], timeout_s: float = 60.0) -> None:
    """Every API answers /healthz and no process has exited; PlatformFailed otherwise."""
    deadline = time.monotonic() + timeout_s
    pending = [p for p in procs if p.role == "api"]
    while pending:
        check_alive(procs)
        if time.monotonic() > deadline:
            raise PlatformFailed(
                f"{pending[0].name} not ready after {timeout_s:.0f} s:\n{pending[0].log_tail()}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{pending[0].port}/healthz", timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    time.sleep(0.5)
    check_alive(procs)  # a worker that fails on start fails within this


def wait_shared(
    procs: list[Proc],
    connect: Callable[[], psycopg.Connection[Any]],
    workers: int,
    partitions: int,
    timeout_s: float = 60.0,
) -> dict[str, int]:
    """Every settlement partition leased, in fair shares, by ``workers`` workers: the load then
    meets the platform as it runs, not a handover of partitions between workers (a partition
    changing hands rebuilds its citizens' rules states). Partitions held, by worker."""
    deadline = time.monotonic() + timeout_s
    held: Counter[str] = Counter()
    with connect() as conn:
        while True:
            check_alive(procs)
            try:
                rows = conn.execute("SELECT owner FROM settlement_partitions WHERE lease_until > now()")
                held = Counter(owner for (owner,) in rows if owner is not None)
            except psycopg.errors.UndefinedTable:
                held = Counter()
            shares = sorted(held.values())
            if sum(shares) == partitions and len(shares) == workers and shares[-1] - shares[0] <= 1:
                return dict(held)
            if time.monotonic() > deadline:
                shared = f"{partitions} partitions not shared by {workers} workers"
                raise PlatformFailed(f"{shared} after {timeout_s:.0f} s: {dict(held)}")
            time.sleep(0.1)


def check_alive(procs: list[Proc]) -> None:
    for proc in procs:
        code = proc.popen.poll()
        if code is not None:
            raise PlatformFailed(f"{proc.name} exited with code {code}:\n{proc.log_tail()}")


def stop(procs: list[Proc]) -> None:
    """Record each process's peak RSS, then SIGTERM, wait, and SIGKILL what is left."""
    for proc in procs:
        if proc.popen.poll() is None:
            proc.peak_rss_mb = proc.hwm_mb()
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        try:
            proc.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
        proc._log_file.close()


def platform_env(base: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a platform process: ours minus any TANHUI_* setting, plus the bench's."""
    env = {k: v for k, v in base.items() if not k.startswith("TANHUI_")}
    env.update(settings)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def git_revision(cwd: Path) -> dict[str, object]:
    """The commit measured and whether the tree had local changes (None outside a git checkout)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


def machine() -> dict[str, object]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "loadavg_at_start": [round(x, 2) for x in load],
        "engine_us_per_action_at_start": calibrate.engine_us_per_action(),
    }
