"""A canteen running Clean Plate (光盘行动): a finished tray, verified by photo AI or by staff."""

from __future__ import annotations

import random
from collections.abc import Iterator

from .base import Person
from .generator import Generator, Item
from .geography import CANTEENS_PER_REGION, canteen_id
from .plan import Slot

CLEAN_PLATE_RATE = 0.75  # share of a regular's meals that end with a clean plate
PHOTO_AI_RATE = 0.8


def clean_plate(canteen: str, meal: str, verified_by: str = "photo_ai") -> dict[str, object]:
    """The `data` of a clean_plate action."""
    return {"canteen_id": canteen, "meal": meal, "verified_by": verified_by}


def usual_canteen(who: Person, region: str) -> str:
    """The canteen the person eats at in `region` (at work on workdays, near home otherwise)."""
    number = random.Random(f"canteen:{who.population_seed}:{who.index}").randint(1, CANTEENS_PER_REGION)
    return canteen_id(region, number)


class Canteen(Generator):
    """At most one verified meal per meal kind a day: breakfast, lunch, dinner."""

    kind = "canteen"
    prefix = "cp"
    action_type = "clean_plate"

    def fill(self, who: Person, slots: list[Slot], rng: random.Random) -> Iterator[Item]:
        for slot in slots:
            if rng.random() < CLEAN_PLATE_RATE:
                verified_by = "photo_ai" if rng.random() < PHOTO_AI_RATE else "staff"
                yield (
                    slot.start,
                    slot.region,
                    clean_plate(usual_canteen(who, slot.region), slot.purpose, verified_by),
                )


day = Canteen().day
