"""A Shantou bus operator (BRT counts as `bus`): card taps give exact stop-to-stop distances.

A commuter rides the same stops every workday (home stop to work stop and back), so distances
repeat as they do in real tap data; average speed including dwell is 15-25 km/h.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from .base import Person
from .generator import Generator, Item
from .geography import Route, routes_serving
from .plan import Slot

MAX_COMMUTE_HOPS = 18  # 18 stops x 800 m = 14.4 km: four such rides stay far under the reduction cap
ERRAND_HOPS = (2, 10)
SPEED_KMH = (15.0, 25.0)

Ride = tuple[Route, int, int]  # route, boarding stop, alighting stop


def trip(mode: str, distance_m: int, duration_s: int) -> dict[str, object]:
    """The `data` of a trip action."""
    return {"mode": mode, "distance_m": distance_m, "duration_s": duration_s}


def _alight(route: Route, board: int, hops: int, rng: random.Random) -> int:
    """A stop `hops` away in a random direction that stays on the route (and is not the boarding one)."""
    ahead, behind = board + hops, board - hops
    choices = [stop for stop in (ahead, behind) if 0 <= stop < route.stops]
    if choices:
        return rng.choice(choices)
    return route.stops - 1 if board < route.stops // 2 else 0


def commute(who: Person) -> Ride:
    """The person's usual ride to work: the same every day, reversed in the evening."""
    rng = random.Random(f"bus-commute:{who.population_seed}:{who.index}")
    serving = routes_serving(who.home)
    route = rng.choice([r for r in serving if who.work in r.districts and who.work != who.home] or serving)
    board = rng.choice([i for i, d in enumerate(route.districts) if d == who.home])
    at_work = [i for i, d in enumerate(route.districts) if d == who.work and i != board]
    if who.work != who.home and at_work:
        alight = min(at_work, key=lambda i: abs(i - board) + rng.random())
        if abs(alight - board) > MAX_COMMUTE_HOPS:
            alight = board + MAX_COMMUTE_HOPS * (1 if alight > board else -1)
        return route, board, alight
    return route, board, _alight(route, board, rng.randint(3, 12), rng)


def errand(region: str, rng: random.Random) -> Ride:
    """A short ride from a stop in `region`."""
    route = rng.choice(routes_serving(region))
    board = rng.choice([i for i, d in enumerate(route.districts) if d == region])
    return route, board, _alight(route, board, rng.randint(*ERRAND_HOPS), rng)


class Transit(Generator):
    """Bus trips: commutes in the rush hours, errands in the day and evening."""

    kind = "transit"
    prefix = "bus"
    action_type = "trip"

    def fill(self, who: Person, slots: list[Slot], rng: random.Random) -> Iterator[Item]:
        usual = commute(who)
        outbound: Ride | None = None
        for slot in slots:
            if slot.purpose == "commute_am":
                route, board, alight = usual
            elif slot.purpose == "commute_pm":
                route, alight, board = usual
            elif slot.purpose == "errand_back" and outbound is not None:
                route, alight, board = outbound
            else:
                route, board, alight = outbound = errand(slot.region, rng)
            distance = abs(route.positions_m[alight] - route.positions_m[board])
            duration = round(distance / (rng.uniform(*SPEED_KMH) / 3.6))
            yield slot.start, route.districts[board], trip("bus", distance, min(duration, slot.window_s))


day = Transit().day
