"""Everyday equivalents of grams of CO2e reduced, for citizens' eyes only (never for credits).

Each constant is a round figure with its basis; each is chosen so that an equivalent rather
understates than overstates. docs/citizen-api.md lists them with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass

# A typical in-use petrol car: ~7.2 L/100 km (our assumption for real-world driving) × 2.35 kg CO2
# per litre of petrol (US EPA: 8,887 g CO2 per US gallon burned) ≈ 170 g/km. Higher than the
# 129 g/km new-car test-cycle average the trip methodologies use as baseline, so fewer km are shown.
PETROL_CAR_G_PER_KM = 170

# A mature tree's uptake: ~20 kg CO2 a year, our round assumption (real uptake varies widely with
# species, age and climate; young trees take up much less).
TREE_G_PER_YEAR = 20_000
DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class Equivalents:
    petrol_car_km: int  # km a petrol car did not drive
    tree_days: int  # days of one mature tree's uptake


def equivalents(grams: int) -> Equivalents:
    """The equivalents of ``grams`` reduced, rounded down to whole units."""
    return Equivalents(
        petrol_car_km=grams // PETROL_CAR_G_PER_KM,
        tree_days=grams * DAYS_PER_YEAR // TREE_G_PER_YEAR,
    )
