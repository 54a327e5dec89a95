"""A bike-sharing operator: GPS-measured trips of 0.5-6 km at 8-18 km/h."""

from __future__ import annotations

import random
from collections.abc import Iterator

from .base import Person
from .generator import Generator, Item
from .plan import Slot
from .transit import trip

DISTANCE_M = (500, 6_000)
SPEED_KMH = (8.0, 18.0)


class BikeSharing(Generator):
    """Bike trips: a commuter's usual distance give or take GPS noise, and short errands."""

    kind = "bike"
    prefix = "bike"
    action_type = "trip"

    def fill(self, who: Person, slots: list[Slot], rng: random.Random) -> Iterator[Item]:
        usual = random.Random(f"bike-commute:{who.population_seed}:{who.index}").randint(1_200, 5_500)
        errand = 0
        for slot in slots:
            if slot.purpose.startswith("commute"):
                planned = usual
            elif slot.purpose == "errand_out" or not errand:
                planned = errand = round(rng.triangular(DISTANCE_M[0], DISTANCE_M[1], 1_500))
            else:
                planned = errand
            distance = min(max(round(planned * rng.uniform(0.96, 1.06)), DISTANCE_M[0]), DISTANCE_M[1])
            duration = round(distance / (rng.uniform(*SPEED_KMH) / 3.6))
            yield slot.start, slot.region, trip("bike", distance, min(duration, slot.window_s))


day = BikeSharing().day
