"""Certification periods: calendar months in Asia/Shanghai (``2026-11``), their bounds and vintage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from points_engine.certification.errors import InvalidPeriod

__all__ = ["SHANGHAI", "Period"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month of Asia/Shanghai; its vintage is its year."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM`` (months 01-12, years 2000-9998); InvalidPeriod for anything else."""
        match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidPeriod(f"period {text!r} is not of the form YYYY-MM")
        year, month = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 9998:
            raise InvalidPeriod(f"period {text!r}: year out of range 2000-9998")
        return cls(year, month)

    @classmethod
    def containing(cls, at: datetime) -> Period:
        """The period ``at`` (timezone-aware) falls in."""
        local = at.astimezone(SHANGHAI)
        return cls(local.year, local.month)

    @property
    def vintage(self) -> int:
        return self.year

    @property
    def start(self) -> datetime:
        """The first instant of the month in Shanghai, in UTC."""
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the month (exclusive), in UTC."""
        return self.next().start

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def has_begun(self, now: datetime) -> bool:
        return self.start <= now

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
