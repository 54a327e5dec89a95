"""The anti-fraud policy: every threshold of the rules, versioned data with domain.md's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from points_engine.actions import TRIP_MODES, TripMode
from points_engine.rules.errors import InvalidPolicy

_DAY_S = 86_400
_INT_FIELDS = (
    "min_duration_s",
    "daily_trips",
    "daily_meals",
    "daily_meals_per_kind",
    "daily_waste_g",
    "daily_reduction_g",
    "repetition_threshold",
    "retention_s",
)
_FIELDS = frozenset({"version", "max_speed_kmh", "max_distance_km", *_INT_FIELDS})


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds of the rules (domain.md, "Anti-fraud rules"). Integers only: speeds in km/h,
    distances in km, durations in seconds, weights and reductions in grams.

    ``retention_s`` is how far behind the citizen's latest recorded action the state keeps trip spans
    and days; it must exceed intake's maximum age (7 days) plus the settlement lag."""

    version: str
    max_speed_kmh: Mapping[TripMode, int]
    max_distance_km: Mapping[TripMode, int]
    min_duration_s: int
    daily_trips: int
    daily_meals: int
    daily_meals_per_kind: int
    daily_waste_g: int
    daily_reduction_g: int
    repetition_threshold: int
    retention_s: int

    def __post_init__(self) -> None:
        self._validate()
        object.__setattr__(self, "max_speed_kmh", MappingProxyType(dict(self.max_speed_kmh)))
        object.__setattr__(self, "max_distance_km", MappingProxyType(dict(self.max_distance_km)))

    @classmethod
    def default(cls) -> Policy:
        """domain.md's defaults, as version ``2026.1``; the retention (8 days) is our choice."""
        return cls(
            version="2026.1",
            max_speed_kmh={"walk": 8, "bike": 30, "bus": 80, "metro": 120, "ev_car": 150},
            max_distance_km={"walk": 20, "bike": 50, "bus": 100, "metro": 150, "ev_car": 300},
            min_duration_s=60,
            daily_trips=12,
            daily_meals=3,
            daily_meals_per_kind=1,
            daily_waste_g=20_000,
            daily_reduction_g=5_000,
            repetition_threshold=4,
            retention_s=8 * _DAY_S,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_json`` of it gives back an equal policy."""
        return {
            "version": self.version,
            "max_speed_kmh": dict(self.max_speed_kmh),
            "max_distance_km": dict(self.max_distance_km),
            **{name: getattr(self, name) for name in _INT_FIELDS},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Policy:
        """A policy from its JSON form. Raises InvalidPolicy on a missing, unknown or ill-typed field."""
        if not isinstance(d, Mapping) or set(d) != _FIELDS:
            raise InvalidPolicy(f"a policy has exactly the fields {sorted(_FIELDS)}")
        for name in ("max_speed_kmh", "max_distance_km"):
            if not isinstance(d[name], Mapping):
                raise InvalidPolicy(f"{name} must be an object keyed by trip mode")
        return cls(
            version=d["version"],
            max_speed_kmh=dict(d["max_speed_kmh"]),
            max_distance_km=dict(d["max_distance_km"]),
            **{name: d[name] for name in _INT_FIELDS},
        )

    def _validate(self) -> None:
        if not isinstance(self.version, str) or not self.version:
            raise InvalidPolicy("version must be a non-empty string")
        for name in ("max_speed_kmh", "max_distance_km"):
            limits = getattr(self, name)
            if set(limits) != set(TRIP_MODES):
                raise InvalidPolicy(f"{name} must name exactly the modes {list(TRIP_MODES)}")
            if not all(_is_int(v) and v > 0 for v in limits.values()):
                raise InvalidPolicy(f"{name} values must be integers > 0")
        for name in _INT_FIELDS:
            if not _is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise InvalidPolicy(f"{name} must be an integer ≥ 0")
        if self.repetition_threshold < 1:
            raise InvalidPolicy("repetition_threshold must be ≥ 1")
        if self.retention_s < _DAY_S:
            raise InvalidPolicy("retention_s must be at least one day")


def _is_int(value: object) -> bool:
    return type(value) is int
