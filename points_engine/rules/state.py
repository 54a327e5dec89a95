"""What the rules remember about one citizen: per local day counters, and recent trip spans.

Small and serialisable (it lives in Redis under the citizen's key), and rebuildable: ``record`` is the
only transition, used both by ``decide`` and by ``rebuild``. A rejected outcome changes nothing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from points_engine.actions import MEALS, Action, ActionData, CleanPlate, Meal, Trip, WasteSorting
from points_engine.frozen import fast_init
from points_engine.rules.errors import InvalidRulesState
from points_engine.rules.outcome import Outcome
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import CAP_DAILY_TRIPS, CAP_MEAL_KIND, CAP_MEALS

SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000
_FORMAT = 1

Span = tuple[int, int]  # [start, end) in microseconds since the epoch
Counts = tuple[tuple[int, int], ...]  # (value, times seen), sorted by value


def micros(at: datetime) -> int:
    """``at`` (timezone-aware) as whole microseconds since the epoch: exact integer time."""
    return (at - EPOCH) // _MICRO


def local_day(at: datetime) -> date:
    """The calendar day of ``at`` (timezone-aware) in Asia/Shanghai: the day the caps count in."""
    return day_of(micros(at))


def day_of(at_us: int) -> date:
    """The Asia/Shanghai calendar day of an instant in microseconds since the epoch."""
    return _day_of_hour(at_us // _HOUR_US)


@lru_cache(maxsize=4096)
def _day_of_hour(hour: int) -> date:
    # Asia/Shanghai's offsets have been whole hours since 1901, so a UTC hour lies in one local day;
    # caching by hour saves a zoneinfo conversion per action.
    return (EPOCH + timedelta(hours=hour)).astimezone(SHANGHAI).date()


def span_at(start_us: int, trip: Trip) -> Span:
    """The span of a trip: from its ``occurred_at`` (its start, ``start_us``) for ``duration_s``,
    end excluded."""
    return start_us, start_us + trip.duration_s * 1_000_000


def horizon_at(latest_us: int, policy: Policy) -> int:
    """The earliest instant a state whose latest recorded action is at ``latest_us`` can vouch for."""
    return latest_us - policy.retention_s * 1_000_000


def count_of(counts: Counts, value: int) -> int:
    """How many times ``value`` was seen."""
    i = bisect.bisect_left(counts, (value,))
    return counts[i][1] if i < len(counts) and counts[i][0] == value else 0


def _bump(counts: Counts, value: int) -> Counts:
    i = bisect.bisect_left(counts, (value,))
    if i < len(counts) and counts[i][0] == value:
        return (*counts[:i], (value, counts[i][1] + 1), *counts[i + 1 :])
    return (*counts[:i], (value, 1), *counts[i:])


@fast_init
@dataclass(frozen=True, slots=True)
class CitizenDayState:
    """One citizen's local day: what was credited (count caps count credited actions only) and the
    trip distances and waste weights seen in actions that were not rejected."""

    day: date
    trips: int = 0
    meals: int = 0
    meal_kinds: tuple[tuple[Meal, int], ...] = ()  # sorted by meal
    waste_g: int = 0
    reduction_g: int = 0
    distances: Counts = ()
    weights: Counts = ()

    def meals_of(self, meal: Meal) -> int:
        return dict(self.meal_kinds).get(meal, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "trips": self.trips,
            "meals": self.meals,
            "meal_kinds": dict(self.meal_kinds),
            "waste_g": self.waste_g,
            "reduction_g": self.reduction_g,
            "distances": {str(k): n for k, n in self.distances},
            "weights": {str(k): n for k, n in self.weights},
        }

    @classmethod
    def from_json(cls, day: str, d: Any) -> CitizenDayState:
        fields = {"trips", "meals", "meal_kinds", "waste_g", "reduction_g", "distances", "weights"}
        if not isinstance(d, dict) or set(d) != fields:
            raise InvalidRulesState(f"day {day}: expected exactly the fields {sorted(fields)}")
        kinds = _mapping(d["meal_kinds"], f"day {day} meal_kinds")
        if not set(kinds) <= set(MEALS):
            raise InvalidRulesState(f"day {day}: meal_kinds must be keyed by {list(MEALS)}")
        meal_kinds: list[tuple[Meal, int]] = [(k, _count(kinds[k])) for k in MEALS if k in kinds]
        return cls(
            day=_date(day),
            trips=_count(d["trips"]),
            meals=_count(d["meals"]),
            meal_kinds=tuple(sorted(meal_kinds)),
            waste_g=_count(d["waste_g"]),
            reduction_g=_count(d["reduction_g"]),
            distances=_counts(d["distances"], f"day {day} distances"),
            weights=_counts(d["weights"], f"day {day} weights"),
        )


@fast_init
@dataclass(frozen=True, slots=True)
class CitizenState:
    """Everything the rules need about one citizen. ``latest_us`` is the latest ``occurred_at`` of a
    recorded action; days and spans older than ``latest_us - policy.retention_s`` are pruned."""

    latest_us: int | None = None
    days: tuple[CitizenDayState, ...] = ()  # sorted by day
    spans: tuple[Span, ...] = field(default=())  # sorted by start, pairwise disjoint

    def day(self, day: date) -> CitizenDayState:
        """The counters of ``day`` (empty if nothing was recorded on it)."""
        for state in self.days:
            if state.day == day:
                return state
        return _empty_day(day)

    def horizon_us(self, policy: Policy) -> int | None:
        """The earliest instant the state can vouch for: an older action cannot be decided."""
        return None if self.latest_us is None else horizon_at(self.latest_us, policy)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_json`` of it gives back an equal state."""
        return {
            "format": _FORMAT,
            "latest_us": self.latest_us,
            "days": {d.day.isoformat(): d.to_json() for d in self.days},
            "spans": [[start, end] for start, end in self.spans],
        }

    @classmethod
    def from_json(cls, d: Any) -> CitizenState:
        """A state from its JSON form. Raises InvalidRulesState if it is malformed."""
        if not isinstance(d, dict) or set(d) != {"format", "latest_us", "days", "spans"}:
            raise InvalidRulesState("expected exactly the fields format, latest_us, days, spans")
        if d["format"] != _FORMAT:
            raise InvalidRulesState(f"unknown state format {d['format']!r}")
        latest = d["latest_us"]
        if latest is not None and type(latest) is not int:
            raise InvalidRulesState("latest_us must be an integer or null")
        days = tuple(
            sorted(
                (CitizenDayState.from_json(k, v) for k, v in _mapping(d["days"], "days").items()),
                key=lambda s: s.day,
            )
        )
        return cls(latest_us=latest, days=days, spans=_spans(d["spans"]))


def record(state: CitizenState, action: Action, outcome: Outcome, policy: Policy) -> CitizenState:
    """The state after ``outcome`` was decided for ``action``: the one transition of the state."""
    if outcome.status == "rejected":
        return state
    at_us = micros(action.occurred_at)
    return record_at(state, action.data, at_us, state.day(day_of(at_us)), outcome, policy)


def record_at(
    state: CitizenState, data: ActionData, at_us: int, old: CitizenDayState, outcome: Outcome, policy: Policy
) -> CitizenState:
    """``record`` of an outcome that is not a rejection, given what ``decide`` has worked out already:
    the action's instant ``at_us`` and ``old``, the state's counters of its local day."""
    trips, meals, kinds, waste_g = old.trips, old.meals, old.meal_kinds, old.waste_g
    distances, weights, spans = old.distances, old.weights, state.spans
    if isinstance(data, Trip):
        distances = _bump(distances, data.distance_m)
        if CAP_DAILY_TRIPS not in outcome.reasons:
            trips += 1
        span = span_at(at_us, data)
        i = bisect.bisect_left(spans, span)
        spans = (*spans[:i], span, *spans[i:])
    elif isinstance(data, WasteSorting):
        # Only weight within the cap is credited: the day's weight stops at the cap.
        waste_g = max(waste_g, min(waste_g + data.weight_g, policy.daily_waste_g))
        weights = _bump(weights, data.weight_g)
    elif isinstance(data, CleanPlate) and not (
        CAP_MEALS in outcome.reasons or CAP_MEAL_KIND in outcome.reasons
    ):
        meals += 1
        kinds = tuple(sorted({**dict(kinds), data.meal: old.meals_of(data.meal) + 1}.items()))
    day = CitizenDayState(
        old.day, trips, meals, kinds, waste_g, old.reduction_g + outcome.reduction_g, distances, weights
    )
    days = _put_day(state.days, day)
    latest = state.latest_us
    if latest is not None and at_us <= latest:
        return CitizenState(latest, days, spans)  # the horizon did not move: nothing to prune
    return _pruned(at_us, days, spans, policy)


def _put_day(days: tuple[CitizenDayState, ...], day: CitizenDayState) -> tuple[CitizenDayState, ...]:
    """``days`` (sorted) with ``day`` in its place, replacing the earlier record of the same day."""
    i = 0
    while i < len(days) and days[i].day < day.day:
        i += 1
    j = i + 1 if i < len(days) and days[i].day == day.day else i
    return (*days[:i], day, *days[j:])


def _pruned(
    latest_us: int, days: tuple[CitizenDayState, ...], spans: tuple[Span, ...], policy: Policy
) -> CitizenState:
    """The state at ``latest_us`` without the days and spans older than its horizon."""
    horizon = horizon_at(latest_us, policy)
    first_day = day_of(horizon)
    d = s = 0
    while d < len(days) and days[d].day < first_day:
        d += 1
    while s < len(spans) and spans[s][1] <= horizon:  # disjoint and sorted by start, so by end too
        s += 1
    return CitizenState(latest_us, days[d:] if d else days, spans[s:] if s else spans)


@lru_cache(maxsize=1024)
def _empty_day(day: date) -> CitizenDayState:
    # Frozen, so one per date serves every citizen with nothing recorded on it yet.
    return CitizenDayState(day=day)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise InvalidRulesState(f"{value!r} is not an integer ≥ 0")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRulesState(f"{where} must be an object")
    return value


def _counts(value: Any, where: str) -> Counts:
    counts: list[tuple[int, int]] = []
    for key, n in _mapping(value, where).items():
        if not (key.isascii() and key.isdigit() and str(int(key)) == key):
            raise InvalidRulesState(f"{where} must be keyed by integers written canonically")
        counts.append((int(key), _count(n)))
    return tuple(sorted(counts))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRulesState(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _spans(value: Any) -> tuple[Span, ...]:
    if not isinstance(value, list):
        raise InvalidRulesState("spans must be a list")
    spans: list[Span] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and all(type(x) is int for x in item)):
            raise InvalidRulesState("each span is [start_us, end_us]")
        if item[0] > item[1]:
            raise InvalidRulesState("a span ends at or after its start")
        spans.append((item[0], item[1]))
    if spans != sorted(spans) or any(a[1] > b[0] for a, b in pairwise(spans)):
        raise InvalidRulesState("spans must be sorted by start and disjoint")
    return tuple(spans)
