"""Exact decimals: factors are published as decimal text and computed as integer ratios.

Floats never touch a factor: ``46.8`` is read as 234/5, so a reduction is an exact integer floor.
"""

from __future__ import annotations

import re
from fractions import Fraction

from points_engine.methodologies.errors import InvalidMethodologyVersion

# Canonical form only (no sign, exponent, leading or trailing zeros), so that
# text → Fraction → text gives back the very same text: published versions round-trip exactly.
_CANONICAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")


def parse_decimal(text: str) -> Fraction:
    """The exact value of a canonical non-negative decimal such as ``"46.8"``, ``"0.26"`` or ``"144"``."""
    if not _CANONICAL.fullmatch(text):
        raise InvalidMethodologyVersion(f"{text!r} is not a canonical non-negative decimal")
    return Fraction(text)


def is_decimal(value: Fraction) -> bool:
    """Whether ``value`` is non-negative with a finite decimal expansion (so it can be published)."""
    return value >= 0 and _strip_2_and_5(value.denominator) == 1


def format_decimal(value: Fraction) -> str:
    """The canonical decimal text of ``value``; the inverse of :func:`parse_decimal`."""
    if not is_decimal(value):
        raise InvalidMethodologyVersion(f"{value} has no finite non-negative decimal form")
    places = _decimal_places(value.denominator)
    scaled = value.numerator * 10**places // value.denominator
    whole, fraction = divmod(scaled, 10**places)
    # With the fewest places the last digit is never 0 (numerator and denominator are coprime).
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)


def _strip_2_and_5(n: int) -> int:
    for p in (2, 5):
        while n % p == 0:
            n //= p
    return n


def _decimal_places(denominator: int) -> int:
    places = 0
    while 10**places % denominator:
        places += 1
    return places
