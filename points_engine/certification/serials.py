"""Serial ranges of certified tonnes: ``TH-{BOOK}-{VINTAGE}-{RUN:06}-{START:09}-{END:09}``.

One range per block of whole tonnes a run issues (docs/domain.md, "Certified credits"), e.g.
``TH-NANAO-2026-000003-000000001-000000042``: tonnes 1 to 42, both included, of run 3 of the
Nan'ao book, vintage 2026.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from points_engine.certification.errors import InvalidSerial
from points_engine.regions import BOOKS, Book

__all__ = ["SerialRange", "parse_serial", "serial"]

MAX_RUN = 999_999
MAX_UNIT = 999_999_999
# [0-9], not \d: \d also matches other scripts' digits, which int() would then happily read.
_SERIAL = re.compile(r"TH-([A-Z]+)-([0-9]{4})-([0-9]{6})-([0-9]{9})-([0-9]{9})")


@dataclass(frozen=True, slots=True)
class SerialRange:
    """Tonnes ``start`` to ``end`` (both included, numbered from 1) of run ``run`` of a book."""

    book: Book
    vintage: int
    run: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.book not in BOOKS:
            raise InvalidSerial(f"unknown book {self.book!r} (books: {', '.join(BOOKS)})")
        _check_int("vintage", self.vintage, 1000, 9999)
        _check_int("run", self.run, 1, MAX_RUN)
        _check_int("start", self.start, 1, MAX_UNIT)
        _check_int("end", self.end, self.start, MAX_UNIT)

    @property
    def tonnes(self) -> int:
        """How many tonnes the range holds."""
        return self.end - self.start + 1

    def __str__(self) -> str:
        return f"TH-{self.book.upper()}-{self.vintage:04d}-{self.run:06d}-{self.start:09d}-{self.end:09d}"


def serial(book: Book, vintage: int, run: int, start: int, end: int) -> str:
    """The serial of tonnes ``start``..``end`` of a run. Raises InvalidSerial when out of bounds."""
    return str(SerialRange(book, vintage, run, start, end))


def parse_serial(text: str) -> SerialRange:
    """The range a serial names; exactly the form ``serial`` writes. Raises InvalidSerial otherwise."""
    match = _SERIAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidSerial("not of the form TH-{BOOK}-{VINTAGE}-{RUN:06}-{START:09}-{END:09}", text=text)
    name, vintage, run, start, end = match.groups()
    book = next((b for b in BOOKS if b.upper() == name), None)
    if book is None:
        raise InvalidSerial(f"unknown book {name!r}", text=text)
    try:
        return SerialRange(book, int(vintage), int(run), int(start), int(end))
    except InvalidSerial as error:
        raise InvalidSerial(error.reason, text=text) from None


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise InvalidSerial(f"{name} must be an int from {low} to {high}, got {value!r}")
