"""Why a benchmark could not run: shown as one line by the CLI, never as a traceback."""

from __future__ import annotations


class BenchError(Exception):
    """The benchmark cannot start or cannot go on (bad options, no PostgreSQL, a process died)."""


class BadOptions(BenchError):
    """An option or setting the benchmark cannot work with."""


class PlatformFailed(BenchError):
    """A process of the platform exited or never became ready."""
