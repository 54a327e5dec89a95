"""One person's day: which partner kind serves each trip, drop-off and meal, and when.

The plan depends only on the population (person and date), never on a partner's seed, so every
simulator agrees on it. Trips start at their slot and last at most its window; slots are spaced so
that two trips never overlap, whether a platform reads `occurred_at` as the start or the end of a
trip: starts are at least max(window) + 10 min apart. Commutes peak 07:00-09:00 and 17:00-19:00.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .base import Person, at

TRIP_KINDS = ("transit", "bike")
MARGIN = timedelta(minutes=10)
COMMUTE_WINDOW_S = 75 * 60
ERRAND_WINDOW_S = 45 * 60

# Mode share by preference, for errands: (transit, bike); the rest walk or drive, unreported.
_ERRAND_MODES = {"transit": (0.60, 0.15), "bike": (0.10, 0.70), "mixed": (0.45, 0.45), "other": (0.15, 0.20)}
# Minutes after midnight (low, high, mode) for triangular draws.
_AM_COMMUTE = (410, 530, 465)  # 06:50-08:50, peak 07:45
_PM_COMMUTE = (1020, 1170, 1080)  # 17:00-19:30, peak 18:00
_MEALS = {"breakfast": (420, 555, 480), "lunch": (700, 770, 730), "dinner": (1050, 1125, 1080)}
_WASTE_HOURS = ((420, 525, 450), (1110, 1260, 1170))  # stations open 07:00-08:45 and 18:30-21:00


@dataclass(frozen=True)
class Slot:
    """Something the person does that one partner kind sees."""

    kind: str  # "transit" | "bike" | "waste" | "canteen"
    start: datetime
    window_s: int  # a trip lasts at most this long; a drop-off or meal is a moment
    purpose: str  # commute_am, commute_pm, errand_out, errand_back, waste, breakfast, lunch, dinner
    region: str  # where it begins


class _Day:
    def __init__(self, who: Person, day: date, rng: random.Random) -> None:
        self.who, self.day, self.rng = who, day, rng
        self.slots: list[Slot] = []

    def trips(self) -> list[Slot]:
        return [s for s in self.slots if s.kind in TRIP_KINDS]

    def fits(self, start: datetime, window_s: int) -> bool:
        return all(
            abs(start - s.start) >= timedelta(seconds=max(window_s, s.window_s)) + MARGIN
            for s in self.trips()
        )

    def trip(self, kind: str | None, start: datetime, window_s: int, purpose: str, region: str) -> bool:
        if kind is None or not self.fits(start, window_s):
            return False
        self.slots.append(Slot(kind, start, window_s, purpose, region))
        return True

    def moment(self, hours: tuple[float, float, float]) -> datetime | None:
        """A time within `hours` outside any trip (pushed past the trip it falls in), or None."""
        low, high, mode = hours
        start = at(self.day, self.rng.triangular(low, high, mode))
        for _ in range(3):
            busy = [s for s in self.trips() if abs(start - s.start) <= timedelta(seconds=s.window_s)]
            if not busy:
                return start if start <= at(self.day, high) else None
            start = busy[0].start + timedelta(seconds=busy[0].window_s + self.rng.randint(300, 1200))
        return None

    def commute_kind(self) -> str | None:
        mode = self.who.mode
        if mode == "mixed":
            return self.rng.choice(TRIP_KINDS)
        return mode if mode in TRIP_KINDS else None

    def errand_kind(self) -> str | None:
        transit, bike = _ERRAND_MODES[self.who.mode]
        draw = self.rng.random()
        return "transit" if draw < transit else "bike" if draw < transit + bike else None


def day_plan(who: Person, day: date) -> list[Slot]:
    """The person's slots on `day`, in time order (Shanghai time)."""
    rng = random.Random(f"plan:{who.population_seed}:{who.index}:{day.isoformat()}")
    plan = _Day(who, day, rng)
    workday = day.weekday() < 5 and who.commuter
    if workday:
        plan.trip(
            plan.commute_kind(),
            at(day, rng.triangular(*_AM_COMMUTE)),
            COMMUTE_WINDOW_S,
            "commute_am",
            who.home,
        )
        plan.trip(
            plan.commute_kind(),
            at(day, rng.triangular(*_PM_COMMUTE)),
            COMMUTE_WINDOW_S,
            "commute_pm",
            who.work,
        )
    _errands(plan, workday)
    if rng.random() < who.sorts_waste:
        moment = plan.moment(rng.choice(_WASTE_HOURS))
        if moment is not None:
            plan.slots.append(Slot("waste", moment, 0, "waste", who.home))
    if who.canteen:
        _meals(plan, workday)
    return sorted(plan.slots, key=lambda s: s.start)


def _errands(plan: _Day, workday: bool) -> None:
    rng, who = plan.rng, plan.who
    weights = (70, 30, 0) if workday else (30, 45, 25)
    for _ in range(rng.choices((0, 1, 2), weights=weights)[0]):
        evening = workday or rng.random() < 0.4
        out = at(plan.day, rng.uniform(1140, 1245) if evening else rng.uniform(570, 960))
        back = out + timedelta(seconds=rng.randint(55 * 60, 150 * 60))  # 55 min: errand window + margin
        kind = plan.errand_kind()
        if kind is not None and plan.fits(out, ERRAND_WINDOW_S) and plan.fits(back, ERRAND_WINDOW_S):
            plan.trip(kind, out, ERRAND_WINDOW_S, "errand_out", who.home)
            plan.trip(kind, back, ERRAND_WINDOW_S, "errand_back", who.home)


def _meals(plan: _Day, workday: bool) -> None:
    chances = {"breakfast": 0.3, "lunch": 0.85, "dinner": 0.25} if workday else {"lunch": 0.4, "dinner": 0.15}
    region = plan.who.work if workday else plan.who.home
    for meal, chance in chances.items():
        if plan.rng.random() < chance:
            moment = plan.moment(_MEALS[meal])
            if moment is not None:
                plan.slots.append(Slot("canteen", moment, 0, meal, region))
