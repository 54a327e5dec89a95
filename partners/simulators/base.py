"""What every simulator shares: the population of citizens, the shape of an action, and `Traffic`.

A person is a pure function of (population seed, index): the same mobile number, home and habits
at every partner, under a user id of that partner (`wx_o6_<kind>_p<seed>_<index>`). Each partner
kind fills only its own slots of that person's day plan (`plan.py`), so simulators run apart from
one another never make one citizen's trips overlap, and stay within the daily caps together.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from . import geography

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
Action = dict[str, Any]

_MOBILE_SPACE = 10**8
_MOBILE_STEP = 48_271  # coprime with 10**8: index -> number is a bijection, so no two people share one


@dataclass(frozen=True)
class Person:
    """One citizen of the simulated city, identical at every partner for one population seed."""

    population_seed: int
    index: int
    mobile: str
    home: str
    work: str
    commuter: bool
    mode: str  # how they travel by preference: "transit", "bike", "mixed" or "other" (car, walking)
    sorts_waste: float  # chance of visiting their compound's sorting station on a given day
    canteen: bool  # eats at a canteen that runs Clean Plate (workplace, school, elders' canteen)


def mobile(population_seed: int, index: int) -> str:
    """A distinct `+86138xxxxxxxx` number per index of one population."""
    offset = random.Random(f"mobiles:{population_seed}").randrange(_MOBILE_SPACE)
    return f"+86138{(_MOBILE_STEP * index + offset) % _MOBILE_SPACE:08d}"


def user_id(kind: str, population_seed: int, index: int) -> str:
    """The partner's own id for a person: different at each partner kind for the same mobile."""
    return f"wx_o6_{kind}_p{population_seed}_{index:05d}"


def person(population_seed: int, index: int, home: str | None = None) -> Person:
    """The person `index` of a population: where they live (or in `home`), work, and their habits."""
    rng = random.Random(f"person:{population_seed}:{index}")
    drawn = rng.choices(list(geography.HOME_WEIGHTS), weights=list(geography.HOME_WEIGHTS.values()))[0]
    home = home or drawn
    commuter = rng.random() < 0.65
    work = home if not commuter or rng.random() < 0.65 else rng.choice(geography.COMMUTES_TO[home])
    mode = rng.choices(("transit", "bike", "mixed", "other"), weights=(35, 30, 15, 20))[0]
    sorts_waste = rng.choices((0.0, 0.3, 0.7), weights=(25, 35, 40))[0]
    canteen = rng.random() < (0.35 if commuter else 0.15)
    return Person(
        population_seed,
        index,
        mobile(population_seed, index),
        home,
        work,
        commuter,
        mode,
        sorts_waste,
        canteen,
    )


def rfc3339(moment: datetime) -> str:
    """`2026-11-24T08:15:00+08:00`: Shanghai time with its offset, to the second."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def at(day: date, minutes: float) -> datetime:
    """Shanghai time on `day`, `minutes` after midnight (to the second)."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(seconds=int(minutes * 60))


@dataclass(frozen=True)
class FraudCase:
    """One injected fraud, labelled with what the platform is expected to do about it.

    `expect` is `rejected` (speed, overlap), `capped` (over_cap), `flagged` (repetition) or `401`
    (replay); `event_ids` are the actions expected to be caught, `related` the whole pattern.
    """

    kind: str
    expect: str
    user: str
    mobile: str
    event_ids: tuple[str, ...]
    detail: str
    related: tuple[str, ...] = ()
    counterpart: tuple[str, str] | None = None  # (partner kind, event id) on the other side of an overlap

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Traffic:
    """A day of one partner: the users to bind first, then the actions in `occurred_at` order."""

    bindings: list[tuple[str, str]]
    actions: list[Action]
    fraud: list[FraudCase] = field(default_factory=list)


def sort_actions(actions: list[Action]) -> list[Action]:
    """Chronological (every timestamp carries +08:00, so the strings sort as the instants do)."""
    return sorted(actions, key=lambda a: (a["occurred_at"], a["event_id"]))
