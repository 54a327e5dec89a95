"""One factor: grams CO2e avoided per unit of a green action, with the source it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from points_engine.methodologies.decimals import format_decimal, is_decimal, parse_decimal
from points_engine.methodologies.errors import InvalidMethodologyVersion
from points_engine.methodologies.keys import UNIT_SCALE

_FIELDS = frozenset({"g_per_unit", "unit", "source", "notes"})


@dataclass(frozen=True, slots=True)
class Factor:
    """Reduction (baseline − project emissions) in g CO2e per ``unit``, exact, with its ``source``."""

    g_per_unit: Fraction
    unit: str
    source: str
    notes: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.g_per_unit, Fraction) or not is_decimal(self.g_per_unit):
            raise InvalidMethodologyVersion(f"g_per_unit {self.g_per_unit!r} is not an exact decimal ≥ 0")
        if self.unit not in UNIT_SCALE:
            raise InvalidMethodologyVersion(f"unknown unit {self.unit!r} (known: {sorted(UNIT_SCALE)})")
        if not self.source.strip():
            raise InvalidMethodologyVersion("every factor names its source")

    def reduction_g(self, quantity: int) -> int:
        """Whole grams CO2e for ``quantity`` base units (metres, grams, meals), rounded down; never < 0."""
        if quantity < 0:
            raise ValueError(f"quantity must be >= 0, got {quantity}")
        per_unit = self.g_per_unit
        return quantity * per_unit.numerator // (per_unit.denominator * UNIT_SCALE[self.unit])

    @classmethod
    def from_json(cls, key: str, d: Any) -> Factor:
        """A factor from its published JSON form (decimal text, unit, source, optional notes)."""
        if not isinstance(d, dict) or not {"g_per_unit", "unit", "source"} <= d.keys() <= _FIELDS:
            raise InvalidMethodologyVersion(f"factor {key}: expected fields {sorted(_FIELDS)}")
        values = [d["g_per_unit"], d["unit"], d["source"], d.get("notes", "")]
        if not all(isinstance(value, str) for value in values):
            raise InvalidMethodologyVersion(f"factor {key}: every field is a string")
        return cls(parse_decimal(d["g_per_unit"]), d["unit"], d["source"], d.get("notes"))

    def to_json(self) -> dict[str, str]:
        """The published JSON form; ``from_json`` of it gives back an equal factor."""
        d = {"g_per_unit": format_decimal(self.g_per_unit), "unit": self.unit, "source": self.source}
        if self.notes is not None:
            d["notes"] = self.notes
        return d
