"""The rules state as a flat run of 64-bit integers: the form Redis holds under a citizen's key.

A worker loads and stores one state per action it settles, so reading it back must cost less than
the decision it serves: the JSON form (``to_json``), parsed and checked field by field, cost more.
This one is read with one C call and checked in one pass, as strictly as ``from_json`` checks JSON.
Little-endian int64s:

    FORMAT, has_latest (0 or 1), latest_us (0 when absent),
    n spans, then start_us, end_us of each,
    n days, then of each: date ordinal, trips, meals, waste_g, reduction_g,
        n meal kinds, then (index in MEALS, count) of each, in the state's order (by meal name),
        n distances, then (distance_m, times seen) of each, by distance,
        n weights, then (weight_g, times seen) of each, by weight.
"""

from __future__ import annotations

import sys
from array import array
from datetime import date
from itertools import pairwise

from points_engine.actions import MEALS, Meal
from points_engine.rules.errors import InvalidRulesState
from points_engine.rules.state import CitizenDayState, CitizenState, Counts, Span

FORMAT = 2
_MEAL_INDEX = {meal: i for i, meal in enumerate(MEALS)}
_MAX_ORDINAL = date.max.toordinal()
_SWAP = sys.byteorder == "big"


def pack(state: CitizenState) -> bytes:
    """The state's bytes; ``unpack`` of them gives back an equal state. Raises OverflowError if a
    value does not fit 64 bits (intake bounds every quantity far below that)."""
    latest = state.latest_us
    ints = [FORMAT, 0, 0] if latest is None else [FORMAT, 1, latest]
    ints.append(len(state.spans))
    for span in state.spans:
        ints += span
    ints.append(len(state.days))
    for d in state.days:
        ints += (d.day.toordinal(), d.trips, d.meals, d.waste_g, d.reduction_g, len(d.meal_kinds))
        for meal, n in d.meal_kinds:
            ints += (_MEAL_INDEX[meal], n)
        for counts in (d.distances, d.weights):
            ints.append(len(counts))
            for pair in counts:
                ints += pair
    packed = array("q", ints)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def unpack(data: bytes) -> CitizenState:
    """The state of ``pack``'s bytes. Raises InvalidRulesState if they are not such bytes or break
    what a state keeps (counts ≥ 0, days and values unique and sorted, spans sorted and disjoint)."""
    if len(data) % 8:
        raise InvalidRulesState("a packed state is a whole number of 64-bit integers")
    ints = array("q")
    ints.frombytes(data)
    if _SWAP:
        ints.byteswap()
    try:
        return _read(ints.tolist())
    except (IndexError, ValueError):  # ran out of integers
        raise InvalidRulesState("a packed state ends early") from None


def _read(v: list[int]) -> CitizenState:
    # One pass, inlined: a worker unpacks a state per action it settles.
    if v[0] != FORMAT:
        raise InvalidRulesState(f"unknown packed state format {v[0]}")
    if v[1] not in (0, 1):
        raise InvalidRulesState("has_latest must be 0 or 1")
    latest = v[2] if v[1] else None
    if v[3] < 0:
        raise InvalidRulesState("a negative number of spans")
    i = 4 + 2 * v[3]  # i: the next integer to read
    spans: tuple[Span, ...] = ()
    if i > 4:
        flat = v[4:i]
        # Sorted, each ending at or after its start, disjoint: start, end, start, … never decreases.
        if i > len(v) or flat != sorted(flat):
            raise InvalidRulesState("spans must be whole, sorted by start and disjoint")
        spans = tuple(zip(flat[::2], flat[1::2], strict=True))
    n_days, i = v[i], i + 1
    if n_days < 0:
        raise InvalidRulesState("a negative number of days")
    days: list[CitizenDayState] = []
    last = 0
    for _ in range(n_days):
        ordinal, trips, meals, waste_g, reduction_g, n = v[i : i + 6]
        if min(trips, meals, waste_g, reduction_g) < 0:
            raise InvalidRulesState("day counters must be ≥ 0")
        if not last < ordinal <= _MAX_ORDINAL:
            raise InvalidRulesState("days must be valid dates, unique and sorted")
        last, i = ordinal, i + 6
        kinds: tuple[tuple[Meal, int], ...] = ()
        if n:
            kinds, i = _meal_kinds(v, i, n), i + 2 * n
        n, i = v[i], i + 1
        distances: Counts = ()
        if n:
            distances, i = _counts(v, i, n), i + 2 * n
        n, i = v[i], i + 1
        weights: Counts = ()
        if n:
            weights, i = _counts(v, i, n), i + 2 * n
        day = date.fromordinal(ordinal)
        days.append(CitizenDayState(day, trips, meals, kinds, waste_g, reduction_g, distances, weights))
    if i != len(v):
        raise InvalidRulesState("a packed state has trailing integers")
    return CitizenState(latest, tuple(days), spans)


def _meal_kinds(v: list[int], i: int, n: int) -> tuple[tuple[Meal, int], ...]:
    end = i + 2 * n
    if n < 0 or end > len(v):
        raise InvalidRulesState("meal kinds run past the end")
    indices, counts = v[i:end:2], v[i + 1 : end : 2]
    if min(indices) < 0 or max(indices) >= len(MEALS) or min(counts) < 0:
        raise InvalidRulesState("meal kinds are (meal index, count ≥ 0)")
    kinds = tuple(zip([MEALS[m] for m in indices], counts, strict=True))
    if any(a[0] >= b[0] for a, b in pairwise(kinds)):
        raise InvalidRulesState("meal kinds must be unique and sorted by meal")
    return kinds


def _counts(v: list[int], i: int, n: int) -> Counts:
    end = i + 2 * n
    if n < 0 or end > len(v):
        raise InvalidRulesState("counts run past the end")
    values, times = v[i:end:2], v[i + 1 : end : 2]
    if values[0] < 0 or min(times) < 0 or (n > 1 and values != sorted(set(values))):
        raise InvalidRulesState("counts are (value ≥ 0, times ≥ 0), values unique and sorted")
    return tuple(zip(values, times, strict=True))
