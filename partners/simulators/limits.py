"""The platform's published defaults (domain.md), mirrored so honest traffic stays inside them.

Partners cannot import the engine; these numbers come from the documentation, not from its code.
Honest generators keep well inside them, and the fraud injectors step outside on purpose.
"""

from __future__ import annotations

# Plausibility of a trip (domain.md, "Anti-fraud rules").
MAX_SPEED_KMH = {"walk": 8, "bike": 30, "bus": 80, "metro": 120, "ev_car": 150}
MAX_DISTANCE_KM = {"walk": 20, "bike": 50, "bus": 100, "metro": 150, "ev_car": 300}
MIN_DURATION_S = 60

# Daily caps per citizen, across partners and books.
MAX_TRIPS_PER_DAY = 12
MAX_MEALS_PER_DAY = 3
MAX_WASTE_G_PER_DAY = 20_000
MAX_REDUCTION_G_PER_DAY = 5_000

# Methodology 2026.1 factors, used only to keep an honest citizen-day under the reduction cap.
TRIP_G_PER_KM = {"metro": 46.8, "bus": 26.9, "bike": 40.0, "walk": 28.0, "ev_car": 71.0}
WASTE_G_PER_G = {
    "paper": 1.76,
    "plastic": 1.37,
    "metal": 1.83,
    "glass": 0.26,
    "textile": 1.28,
    "kitchen": 0.25,
    "hazardous": 0.0,
    "other": 0.0,
}
CLEAN_PLATE_G = 144

# Our own split of the 5,000 g daily reduction cap between kinds of partner, so that a citizen served
# by every simulator at once still stays under it: at most 4 trips of <= 14.4 km by bus (1,550 g),
# 3 meals (432 g) and this much from waste.
HONEST_WASTE_REDUCTION_G = 2_000
HONEST_WASTE_G = 15_000


def waste_reduction_g(category: str, material: str | None, weight_g: int) -> int:
    """Grams of CO2e a drop earns; a recyclable without material uses glass, the lowest factor."""
    key = category if category != "recyclable" else (material or "glass")
    return int(WASTE_G_PER_G[key] * weight_g)


def speed_kmh(distance_m: int, duration_s: int) -> float:
    """Average speed of a trip in km/h."""
    return distance_m / duration_s * 3.6
