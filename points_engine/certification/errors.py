"""Errors of certification runs: Merkle trees, leaf records and serial ranges, each with a stable code."""

from __future__ import annotations

from typing import ClassVar

from points_engine.errors import EngineError


class CertificationError(EngineError):
    """Base of certification errors; ``code`` is stable, kebab-case and free of HTTP words."""

    code: ClassVar[str] = "certification-error"


class LeafIndexOutOfRange(CertificationError):
    """An audit path was asked for a leaf the tree does not have."""

    code: ClassVar[str] = "leaf-index-out-of-range"

    def __init__(self, index: int, size: int) -> None:
        super().__init__(f"leaf index {index} is outside a tree of {size} leaves")
        self.index = index
        self.size = size


class InvalidLeafHash(CertificationError):
    """A leaf hash handed to the tree is not a 32-byte SHA-256 digest."""

    code: ClassVar[str] = "invalid-leaf-hash"

    def __init__(self, position: int, length: int) -> None:
        super().__init__(f"leaf hash #{position} is {length} bytes, not 32")
        self.position = position
        self.length = length


class InvalidLeafRecord(CertificationError):
    """The fields of an action cannot make a canonical leaf record."""

    code: ClassVar[str] = "invalid-leaf-record"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidSerial(CertificationError):
    """A serial range that is malformed or out of bounds (``TH-{BOOK}-{VINTAGE}-{RUN}-{START}-{END}``)."""

    code: ClassVar[str] = "invalid-serial"

    def __init__(self, reason: str, *, text: str | None = None) -> None:
        super().__init__(f"serial {text!r}: {reason}" if text is not None else reason)
        self.reason = reason
        self.text = text


class InvalidPeriod(CertificationError):
    """A certification period that is not a month ``YYYY-MM`` that has begun."""

    code: ClassVar[str] = "invalid-period"
