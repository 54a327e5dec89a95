"""The decision on one action: what is credited, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from points_engine.frozen import fast_init
from points_engine.regions import Book

Status: TypeAlias = Literal["credited", "capped", "rejected"]
STATUSES: tuple[Status, ...] = ("credited", "capped", "rejected")


@fast_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """``reduction_g`` and ``points`` are what is credited (0 when rejected); ``reasons`` are codes of
    ``REASONS`` in precedence order; ``flagged`` holds the action back from certification until reviewed.
    ``methodology`` (``trip.bus@2026.1``) and ``book`` come from the assessment."""

    status: Status
    reduction_g: int
    points: int
    reasons: tuple[str, ...]
    flagged: bool
    methodology: str
    book: Book

    @classmethod
    def rejected(cls, reason: str, methodology: str, book: Book) -> Outcome:
        """Nothing credited, for one reason."""
        return cls("rejected", 0, 0, (reason,), False, methodology, book)
