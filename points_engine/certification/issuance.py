"""What a run issues: whole tonnes out of the grams it certifies plus the book's carry-over.

A run's reductions and the carry-over it received are exactly accounted for:
``carry_in_g + reduction_g == tonnes * 1_000_000 + carry_out_g`` with ``0 <= carry_out_g < 1e6``,
so over all runs of a book, certified grams = issued tonnes × 1,000,000 + the current carry-over.
"""

from __future__ import annotations

from dataclasses import dataclass

from points_engine.certification.serials import SerialRange
from points_engine.errors import InvariantViolation
from points_engine.regions import Book

__all__ = ["GRAMS_PER_TONNE", "Issuance", "issue", "run_id"]

GRAMS_PER_TONNE = 1_000_000


@dataclass(frozen=True, slots=True)
class Issuance:
    tonnes: int
    carry_out_g: int
    range: SerialRange | None  # None when the grams do not reach a whole tonne


def issue(book: Book, vintage: int, run: int, carry_in_g: int, reduction_g: int) -> Issuance:
    """The tonnes (one serial range, numbered from 1 within the run) and the grams carried on."""
    for name, value in (("carry_in_g", carry_in_g), ("reduction_g", reduction_g)):
        if type(value) is not int or value < 0:
            raise InvariantViolation(f"{name} must be a non-negative int, got {value!r}")
    if carry_in_g >= GRAMS_PER_TONNE:
        raise InvariantViolation(f"a carry-over of {carry_in_g} g holds a whole tonne")
    tonnes, carry_out_g = divmod(carry_in_g + reduction_g, GRAMS_PER_TONNE)
    block = SerialRange(book, vintage, run, 1, tonnes) if tonnes else None
    return Issuance(tonnes, carry_out_g, block)


def run_id(book: Book, period: str, number: int) -> str:
    """``run_{book}_{period}_{number:06d}``, e.g. ``run_nanao_2026-11_000003``."""
    return f"run_{book}_{period}_{number:06d}"
