"""Shantou as the simulators see it: districts, where people live, bus routes, stations, canteens.

Route names and stop counts are illustrative, not a timetable; what matters is that distances follow
real stop spacing (500-800 m) and that each stop lies in one district, so a trip's region is where
it began. Nan'ao (440523) is an island joined by the Nan'ao bridge: its bus runs on the island only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

# partner-api.md, "region": the divisions a Shantou partner may report.
REGIONS: dict[str, str] = {
    "440507": "龙湖 Longhu",
    "440511": "金平 Jinping",
    "440512": "濠江 Haojiang",
    "440513": "潮阳 Chaoyang",
    "440514": "潮南 Chaonan",
    "440515": "澄海 Chenghai",
    "440523": "南澳 Nan'ao",
}
NANAO = "440523"

# Where people live, roughly by resident population (Chaoyang and Chaonan are the largest); Nan'ao is
# over-weighted (real share ~1 %) so that small demo populations still exercise the Nan'ao book.
HOME_WEIGHTS: dict[str, float] = {
    "440507": 0.15,
    "440511": 0.15,
    "440512": 0.06,
    "440513": 0.27,
    "440514": 0.22,
    "440515": 0.12,
    "440523": 0.03,
}

# Where people who work outside their home district commute to (the districts one can reach daily).
COMMUTES_TO: dict[str, tuple[str, ...]] = {
    "440507": ("440511", "440515", "440512"),
    "440511": ("440507", "440512"),
    "440512": ("440511", "440507", "440513"),
    "440513": ("440514", "440512", "440511"),
    "440514": ("440513",),
    "440515": ("440507", "440511"),
    "440523": ("440515",),
}


@dataclass(frozen=True)
class Route:
    """A bus route: its stops in order, with the district of each and the metres from the terminus."""

    name: str
    districts: tuple[str, ...]
    positions_m: tuple[int, ...]

    @property
    def stops(self) -> int:
        return len(self.positions_m)


# (name, ((district, number of stops in it), ...)): eight routes over all seven divisions.
_ROUTE_PLAN: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("BRT1 长平路快线 龙湖东-金平西", (("440507", 14), ("440511", 10))),
    ("K2 澄海城区-龙湖 汕汾路", (("440515", 12), ("440507", 8))),
    ("3路 金平老城-礐石 礐石大桥", (("440511", 8), ("440512", 10))),
    ("5路 龙湖-濠江 海湾大桥", (("440507", 9), ("440512", 8))),
    ("18路 金平-潮阳棉城 海湾隧道", (("440511", 6), ("440512", 8), ("440513", 10))),
    ("潮阳1路 棉城-和平-谷饶", (("440513", 22),)),
    ("潮南2路 峡山-陈店-两英", (("440514", 20),)),
    ("南澳1路 后宅-云澳-青澳湾", (("440523", 16),)),
)


@cache
def routes() -> tuple[Route, ...]:
    """The network, identical for every seed: spacing comes from a generator seeded by route name."""
    built = []
    for name, segments in _ROUTE_PLAN:
        rng = random.Random(f"route:{name}")
        districts = tuple(d for d, count in segments for _ in range(count))
        positions, at = [], 0
        for i in range(len(districts)):
            positions.append(at)
            if i < len(districts) - 1:
                at += rng.randint(500, 800)
        built.append(Route(name, districts, tuple(positions)))
    return tuple(built)


def routes_serving(region: str) -> tuple[Route, ...]:
    """Routes with at least one stop in `region`."""
    return tuple(r for r in routes() if region in r.districts)


def station_id(region: str, number: int) -> str:
    """A smart waste-sorting station of a residential compound, e.g. `ws-440507-017`."""
    return f"ws-{region}-{number:03d}"


def canteen_id(region: str, number: int) -> str:
    """A canteen (workplace, school or community elders' canteen), e.g. `ct-440511-04`."""
    return f"ct-{region}-{number:02d}"


STATIONS_PER_REGION = 40
CANTEENS_PER_REGION = 12
