"""Fraud, injected on request and labelled, so tests downstream can assert the platform catches it.

Each traffic case is played by a dedicated fraudster (a person far outside the honest population,
one per partner kind and case) so that it trips exactly the rule it is named after, except
`overlap`, which takes an honest citizen's real trip at the other trip partner and reports an
overlapping one here, for the same mobile. `replay` is a request, not traffic: `replay_request`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from . import limits
from .base import Action, FraudCase, Person, Traffic, at, person, sort_actions, user_id
from .canteen import clean_plate, usual_canteen
from .generator import Item
from .geography import canteen_id
from .registry import GENERATORS
from .transit import trip
from .waste import home_station, sorting

FRAUD_KINDS = ("speed", "overlap", "over_cap", "repetition", "replay")
SUPPORTED: dict[str, tuple[str, ...]] = {
    "transit": FRAUD_KINDS,
    "bike": FRAUD_KINDS,
    "waste": ("over_cap", "repetition", "replay"),
    "canteen": ("over_cap", "replay"),
}
FRAUDSTERS = 9_000_000  # first index of fraudster persons; honest populations stay below it
_KIND_NO = {"transit": 1, "bike": 2, "waste": 3, "canteen": 4}
_FRAUD_NO = {"speed": 1, "over_cap": 2, "repetition": 3}
_MODE = {"transit": "bus", "bike": "bike"}
_OTHER_TRIP_KIND = {"transit": "bike", "bike": "transit"}

# A case: its actions, the indices of those the platform should catch, what it should do, and why.
Built = tuple[list[Item], list[int], str, str]


def _speed(kind: str, who: Person, day: date, rng: random.Random) -> Built:
    mode = _MODE[kind]
    # Under the distance limit, far over the speed limit: e.g. 40 km by bike in 20 minutes.
    km = rng.uniform(35, 45) if mode == "bike" else rng.uniform(55, 70)
    distance, duration = round(km * 1_000), rng.randint(1_100, 1_500)
    speed = limits.speed_kmh(distance, duration)
    detail = f"{distance} m by {mode} in {duration} s: {speed:.0f} km/h > {limits.MAX_SPEED_KMH[mode]}"
    return (
        [(at(day, rng.uniform(600, 900)), who.home, trip(mode, distance, duration))],
        [0],
        "rejected",
        detail,
    )


def _over_cap(kind: str, who: Person, day: date, rng: random.Random) -> Built:
    if kind == "canteen":
        a, b = usual_canteen(who, who.home), canteen_id(who.home, 0)  # number 0: a second canteen nearby
        meals = [
            ("breakfast", a, 460),
            ("lunch", a, 720),
            ("lunch", b, 770),
            ("dinner", a, 1070),
            ("dinner", b, 1120),
        ]
        items = [(at(day, m), who.home, clean_plate(c, meal)) for meal, c, m in meals]
        return (
            items,
            [2, 4],
            "capped",
            "5 Clean Plate meals, two lunches and two dinners (cap: 3, one per kind)",
        )
    if kind == "waste":
        station, start = home_station(who), at(day, 1_130)
        items = [
            (start + timedelta(minutes=2 * i), who.home, sorting("kitchen", 3_000, station))
            for i in range(10)
        ]
        return items, list(range(6, 10)), "capped", "10 x 3 kg of kitchen waste = 30 kg (cap: 20 kg)"
    mode, items = _MODE[kind], []
    for i in range(20):  # every 40 min from 06:00, each ride under 20 min: plausible, but 20 > 12 a day
        distance = rng.randint(2_000, 4_500)
        items.append((at(day, 360 + 40 * i), who.home, trip(mode, distance, round(distance / (16 / 3.6)))))
    caught = list(range(limits.MAX_TRIPS_PER_DAY, 20))
    return items, caught, "capped", f"20 {mode} trips in a day (cap: {limits.MAX_TRIPS_PER_DAY})"


def _repetition(kind: str, who: Person, day: date, rng: random.Random) -> Built:
    if kind == "waste":
        station = home_station(who)
        items = [(at(day, 420 + 90 * i), who.home, sorting("kitchen", 1_000, station)) for i in range(8)]
        return items, list(range(8)), "flagged", "8 drops of exactly 1,000 g in a day"
    mode = _MODE[kind]
    distance = rng.randint(2_000, 3_500)
    items = [
        (at(day, 420 + 70 * i), who.home, trip(mode, distance, round(distance / (rng.uniform(12, 16) / 3.6))))
        for i in range(8)
    ]
    return items, list(range(8)), "flagged", f"8 {mode} trips of exactly {distance} m in a day"


_BUILDERS: dict[str, Callable[[str, Person, date, random.Random], Built]] = {
    "speed": _speed,
    "over_cap": _over_cap,
    "repetition": _repetition,
}


def inject(
    traffic: Traffic,
    kind: str,
    frauds: Iterable[str],
    *,
    day: date,
    seed: int = 1,
    population_seed: int | None = None,
    citizens: int = 200,
    first: int = 0,
    count: int = 1,
) -> Traffic:
    """A copy of `traffic` (made by `kind` with these arguments) plus `count` labelled cases per fraud."""
    frauds = list(frauds)
    wrong = [f for f in frauds if f not in SUPPORTED[kind] or f == "replay"]
    if wrong:
        raise ValueError(f"{kind} traffic cannot carry {', '.join(wrong)} (replay: use replay_request)")
    population = seed if population_seed is None else population_seed
    generator = GENERATORS[kind]
    rng = random.Random(f"fraud:{kind}:{seed}:{population}:{day.isoformat()}")
    out = Traffic(list(traffic.bindings), list(traffic.actions), list(traffic.fraud))
    for fraud in frauds:
        if fraud == "overlap":
            other = GENERATORS[_OTHER_TRIP_KIND[kind]].day(
                day, citizens, seed, population_seed=population, first=first
            )
            _overlaps(out, kind, other, population, day, seed, rng, count)
            continue
        for case in range(count):
            index = FRAUDSTERS + _KIND_NO[kind] * 10_000 + _FRAUD_NO[fraud] * 100 + case
            who, user = person(population, index), user_id(kind, population, index)
            items, caught, expect, detail = _BUILDERS[fraud](kind, who, day, rng)
            actions = [
                generator.action(
                    generator.event_id(day, seed, population, f"x{fraud}{case}-{j:02d}"), user, *item
                )
                for j, item in enumerate(items, 1)
            ]
            ids = tuple(a["event_id"] for a in actions)
            out.bindings.append((user, who.mobile))
            out.actions.extend(actions)
            out.fraud.append(
                FraudCase(fraud, expect, user, who.mobile, tuple(ids[i] for i in caught), detail, ids)
            )
    out.actions = sort_actions(out.actions)
    return out


def _overlaps(
    out: Traffic,
    kind: str,
    other: Traffic,
    population: int,
    day: date,
    seed: int,
    rng: random.Random,
    count: int,
) -> None:
    """Report, at `kind`, a trip overlapping a real trip of the same person at the other trip partner."""
    generator, mobiles = GENERATORS[kind], dict(other.bindings)
    users_here = {m: u for u, m in out.bindings}
    candidates = [a for a in other.actions if users_here.get(mobiles[a["user"]])]
    for case, victim in enumerate(rng.sample(candidates, min(count, len(candidates)))):
        mobile = mobiles[victim["user"]]
        begun = datetime.fromisoformat(victim["occurred_at"]) + timedelta(seconds=30)
        duration = victim["data"]["duration_s"] + 120  # overlaps whether occurred_at is a start or an end
        distance = round(duration * rng.uniform(15, 20) / 3.6)
        data = trip(_MODE[kind], distance, duration)
        event_id = generator.event_id(day, seed, population, f"xoverlap{case}-01")
        action = generator.action(event_id, users_here[mobile], begun, victim["region"], data)
        out.actions.append(action)
        detail = (
            f"overlaps {_OTHER_TRIP_KIND[kind]} trip {victim['event_id']} of the same mobile "
            "(whichever of the two is reported later is the double report)"
        )
        counterpart = (_OTHER_TRIP_KIND[kind], victim["event_id"])
        case_ = FraudCase(
            "overlap", "rejected", action["user"], mobile, (event_id,), detail, (event_id,), counterpart
        )
        out.fraud.append(case_)


@dataclass(frozen=True)
class ReplayResult:
    """Two byte-identical signed requests: the second must be refused as a replay (401)."""

    first_status: int
    second_status: int
    problem_type: str | None
    event_ids: tuple[str, ...]

    @property
    def caught(self) -> bool:
        return self.second_status == 401


def replay_request(
    base_url: str, creds: Any, actions: list[Action], *, transport: Any = None
) -> ReplayResult:
    """POST one signed batch, then resend the very same bytes with the same nonce."""
    import httpx

    from partners.sdk import authorization_header

    path = "/v1/partner/actions"
    body = json.dumps({"actions": actions}, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Authorization": authorization_header(creds, "POST", path, body),
        "Content-Type": "application/json",
    }
    with httpx.Client(base_url=base_url, transport=transport, timeout=10.0) as http:
        first = http.post(path, content=body, headers=headers)
        second = http.post(path, content=body, headers=headers)
    return ReplayResult(
        first.status_code, second.status_code, _problem_type(second), tuple(a["event_id"] for a in actions)
    )


def _problem_type(response: Any) -> str | None:
    try:
        document = response.json()
    except ValueError:
        return None
    return str(document.get("type")) if isinstance(document, dict) else None
