"""The embedded default's Redis server: started for a var directory, reused, stopped by us."""

from __future__ import annotations

import os
from pathlib import Path

import redis

from backend.embedded_redis import EmbeddedRedis


def test_the_server_is_outside_the_platforms_process_group(tmp_path: Path) -> None:
    """Ctrl-C signals the terminal's foreground process group: the platform must get it alone, drain
    its settlers, and stop the server itself afterwards."""
    server = EmbeddedRedis(tmp_path).start()
    try:
        assert server.process is not None
        assert os.getpgid(server.process.pid) != os.getpgid(0)
        assert os.getsid(server.process.pid) != os.getsid(0)
    finally:
        server.stop()


def test_a_second_start_for_the_same_directory_reuses_the_server(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path).start()
    try:
        redis.Redis(unix_socket_path=str(first.socket)).set("kept", "1")
        second = EmbeddedRedis(tmp_path).start()
        assert second.process is None  # not started again
        assert redis.Redis(unix_socket_path=str(second.socket)).get("kept") == b"1"
    finally:
        first.stop()


def test_stop_ends_the_server(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path).start()
    assert server.process is not None
    process = server.process
    server.stop()
    assert process.poll() is not None
