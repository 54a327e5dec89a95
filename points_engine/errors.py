"""Engine errors: a stable kebab-case ``code`` each, no HTTP words.

Expected per-item outcomes (a rejected action) are values, not exceptions: see
``points_engine.intake.Rejection``.
"""

from __future__ import annotations

from typing import ClassVar


class EngineError(Exception):
    code: ClassVar[str] = "engine-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidAction(EngineError):
    code = "invalid-action"


class InvariantViolation(EngineError):
    """A broken invariant is a bug: caught nowhere but the top handler."""

    code = "invariant-violation"
