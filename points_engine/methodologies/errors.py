"""Errors of the methodology catalog, each with a stable code (part of the contract)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from points_engine.errors import EngineError


class MethodologyError(EngineError):
    """Base of methodology errors; ``code`` is stable, kebab-case and free of HTTP words."""

    code: ClassVar[str] = "methodology-error"


class UnknownMethodologyVersion(MethodologyError):
    """No version of that name, or none in force at that time."""

    code: ClassVar[str] = "unknown-methodology-version"

    def __init__(self, *, version: str | None = None, occurred_at: datetime | None = None) -> None:
        self.version = version
        self.occurred_at = occurred_at
        if version is not None:
            message = f"no methodology version {version!r}"
        else:
            message = f"no methodology version in force at {occurred_at!s}"
        super().__init__(message)


class InvalidMethodologyVersion(MethodologyError):
    """A version that may not be published: malformed, incomplete, duplicate or out of order."""

    code: ClassVar[str] = "invalid-methodology-version"

    def __init__(self, reason: str, *, version: str | None = None) -> None:
        self.reason = reason
        self.version = version
        prefix = f"methodology version {version!r}: " if version is not None else ""
        super().__init__(prefix + reason)
