"""Methodology keys: which factor prices an action, and the quantity it is applied to.

Keys are ``trip.<mode>``, ``waste.recyclable.<material>``, ``waste.kitchen``, ``waste.hazardous``,
``waste.other`` and ``clean_plate``. ``waste.recyclable`` (no material) is derived, never published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from points_engine.actions import MATERIALS, TRIP_MODES, ActionData, CleanPlate, Trip, WasteSorting

RECYCLABLE = "waste.recyclable"

# How many of an action's base quantity (metres, grams, meals) make one unit of a factor.
UNIT_SCALE: Mapping[str, int] = {"passenger-km": 1000, "km": 1000, "g": 1, "meal": 1}

# The units a factor of each key family may be published in: the family fixes the quantity measured.
FAMILY_UNITS: Mapping[str, frozenset[str]] = {
    "trip": frozenset({"passenger-km", "km"}),
    "waste": frozenset({"g"}),
    "clean_plate": frozenset({"meal"}),
}

# Every version must price every action the engine accepts (points_engine.actions).
REQUIRED_KEYS: frozenset[str] = frozenset(
    [f"trip.{mode}" for mode in TRIP_MODES]
    + [f"{RECYCLABLE}.{material}" for material in MATERIALS]
    + ["waste.kitchen", "waste.hazardous", "waste.other", "clean_plate"]
)

_KEY = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)*")


def family_of(key: str) -> str:
    """The family of a key: the part before the first dot (``trip``, ``waste``, ``clean_plate``)."""
    return key.split(".", 1)[0]


def is_key(key: str) -> bool:
    """Whether ``key`` is a well-formed key of a known family."""
    return bool(_KEY.fullmatch(key)) and family_of(key) in FAMILY_UNITS


def is_recyclable_material(key: str) -> bool:
    """Whether ``key`` prices one recyclable material (``waste.recyclable.<material>``)."""
    return key.startswith(RECYCLABLE + ".")


def measure(data: ActionData) -> tuple[str, int]:
    """The key pricing ``data`` and its quantity in base units: metres, grams of weight, or 1 meal."""
    if isinstance(data, Trip):
        return f"trip.{data.mode}", data.distance_m
    if isinstance(data, WasteSorting):
        if data.category != "recyclable":
            return f"waste.{data.category}", data.weight_g
        if data.material is None:
            return RECYCLABLE, data.weight_g
        return f"{RECYCLABLE}.{data.material}", data.weight_g
    if isinstance(data, CleanPlate):
        return "clean_plate", 1
    raise TypeError(f"no methodology for {type(data).__name__}")
