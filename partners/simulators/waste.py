"""A smart waste-sorting station operator: a resident's drop-offs at their compound's station.

Each bag is weighed by the station and reported as one action, seconds apart. Kitchen waste is
the daily bag; recyclables come with their material when the bin is material-specific.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

from . import limits
from .base import Person
from .generator import Generator, Item
from .geography import STATIONS_PER_REGION, station_id
from .plan import Slot

# (category, chance a visit includes it)
DROPS = (("kitchen", 0.85), ("recyclable", 0.45), ("other", 0.5), ("hazardous", 0.05))
MATERIALS: dict[str | None, int] = {
    "paper": 35,
    "plastic": 30,
    "metal": 10,
    "glass": 10,
    "textile": 5,
    None: 10,
}
# Grams (low, high, most likely) by category or material; None is a mixed-recyclables bin.
WEIGHT_G: dict[str | None, tuple[int, int, int]] = {
    "kitchen": (200, 3_000, 800),
    "paper": (100, 5_000, 800),
    "plastic": (50, 1_500, 300),
    "metal": (50, 2_000, 300),
    "glass": (100, 3_000, 600),
    "textile": (200, 5_000, 1_500),
    None: (100, 2_000, 500),
    "hazardous": (10, 500, 60),  # batteries, bulbs, medicines
    "other": (100, 2_000, 600),
}


def sorting(category: str, weight_g: int, station: str, material: str | None = None) -> dict[str, object]:
    """The `data` of a waste_sorting action."""
    data: dict[str, object] = {"category": category, "weight_g": weight_g, "station_id": station}
    if material is not None:
        data["material"] = material
    return data


def home_station(who: Person) -> str:
    """The station of the person's compound."""
    number = random.Random(f"station:{who.population_seed}:{who.index}").randint(1, STATIONS_PER_REGION)
    return station_id(who.home, number)


class WasteStation(Generator):
    """Drop-offs; an honest citizen-day stays under 15 kg and 2,000 g of reduction (see limits)."""

    kind = "waste"
    prefix = "ws"
    action_type = "waste_sorting"

    def fill(self, who: Person, slots: list[Slot], rng: random.Random) -> Iterator[Item]:
        station = home_station(who)
        weight_total = reduction_total = 0
        for slot in slots:
            moment = slot.start
            for category, chance in DROPS:
                if rng.random() >= chance:
                    continue
                material = None
                if category == "recyclable":
                    material = rng.choices(list(MATERIALS), weights=list(MATERIALS.values()))[0]
                low, high, likely = WEIGHT_G[material if category == "recyclable" else category]
                factor = limits.waste_reduction_g(category, material, 1_000) / 1_000
                room = limits.HONEST_WASTE_G - weight_total
                if factor:
                    room = min(room, int((limits.HONEST_WASTE_REDUCTION_G - reduction_total) / factor))
                weight = min(round(rng.triangular(low, high, likely)), room)
                if weight < low:
                    continue
                weight_total += weight
                reduction_total += limits.waste_reduction_g(category, material, weight)
                yield moment, slot.region, sorting(category, weight, station, material)
                moment += timedelta(seconds=rng.randint(20, 90))


day = WasteStation().day
