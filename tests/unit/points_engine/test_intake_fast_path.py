"""Intake's fast path decides exactly as the checks in precedence order: the same action for every
well-formed item, and for anything else the same rejection, code and text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from points_engine.actions import ACTION_TYPES, MATERIALS, MEALS, TRIP_MODES, VERIFIERS, WASTE_CATEGORIES
from points_engine.intake import (
    EVENT_ID,
    REGION,
    Permissions,
    Window,
    _validate_action_in_order,
    _validate_body_in_order,
    _well_formed,
    validate_action,
    validate_body,
)
from points_engine.regions import SHANTOU_REGIONS

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
WINDOW = Window(NOW)
EVERYTHING = Permissions(types=frozenset(ACTION_TYPES), regions=frozenset(SHANTOU_REGIONS))
EXAMPLES = settings(max_examples=400, deadline=None)

texts = st.text(min_size=1, max_size=64)
quantities = st.integers(1, 10**9)
sub_seconds = st.sampled_from([0, 0, 1, 500_000])
timespecs = st.sampled_from(["auto", "seconds", "milliseconds"])
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@st.composite
def timestamps(draw: st.DrawFn, *, well_formed: bool = True) -> str:
    """RFC 3339 date-times about the window, as partners write them (and, unless well_formed,
    as they should not: just outside it, naive, lower-case t, a space for the T, a date alone)."""
    if well_formed:
        seconds = draw(st.integers(-7 * 86_400 + 1, 299))  # (sub-seconds come on top)
    else:
        seconds = draw(st.one_of(st.integers(-8 * 86_400, 900), st.sampled_from(sorted(EDGES))))
    at = NOW + timedelta(seconds=seconds, microseconds=draw(sub_seconds))
    text = at.astimezone(draw(offsets)).isoformat(timespec=draw(timespecs))
    if well_formed or draw(st.booleans()):
        return text.replace("+00:00", "Z") if draw(st.booleans()) else text
    return draw(st.sampled_from(spoiled(text)))


EDGES = {-7 * 86_400 - 1, -7 * 86_400, 300, 301}  # seconds from NOW: just in and just out


def spoiled(text: str) -> list[str]:
    return [
        text[:19],  # naive
        text.replace("T", "t"),
        text.replace("T", " "),
        text[:10],
        text[:13] + "x" + text[14:],
        "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
    ]


def data_of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "trip":
        return st.fixed_dictionaries(
            {"mode": st.sampled_from(TRIP_MODES), "distance_m": quantities, "duration_s": quantities}
        )
    if kind == "waste_sorting":
        return st.fixed_dictionaries(
            {"category": st.sampled_from(WASTE_CATEGORIES), "weight_g": quantities, "station_id": texts},
            optional={"material": st.sampled_from((*MATERIALS, None))},
        ).filter(lambda data: data.get("material") is None or data["category"] == "recyclable")
    return st.fixed_dictionaries(
        {"canteen_id": texts, "meal": st.sampled_from(MEALS), "verified_by": st.sampled_from(VERIFIERS)}
    )


@st.composite
def well_formed_items(draw: st.DrawFn, *, timestamp: st.SearchStrategy[str] | None = None) -> dict[str, Any]:
    kind = draw(st.sampled_from(ACTION_TYPES))
    return {
        "event_id": draw(st.from_regex(EVENT_ID, fullmatch=True)),
        "user": draw(texts),
        "type": kind,
        "occurred_at": draw(timestamps() if timestamp is None else timestamp),
        "region": draw(st.sampled_from(sorted(SHANTOU_REGIONS))),
        "data": draw(data_of(kind)),
    }


# What each field may be spoiled with: near misses (of a close type, just out of range, valid for
# another field), then anything.
ENUMS = [*ACTION_TYPES, *TRIP_MODES, *WASTE_CATEGORIES, *MATERIALS, *MEALS, *VERIFIERS]
TEXTS = ["", "a" * 64, "a" * 65, 7, None]
QUANTITIES = [0, -1, 1, 10**9, 10**9 + 1, True, 1.5, "5", None]
NEAR_MISSES: dict[str, list[Any]] = {
    "event_id": [*TEXTS, "a b", "é", "a\n"],
    "user": TEXTS,
    "type": [*ENUMS, "Trip", None, 1],
    "region": ["440599", "44050", "4405071", "440507 ", 440507, None],
    "occurred_at": [
        *(f"{(NOW + timedelta(seconds=edge)).isoformat()}" for edge in sorted(EDGES)),
        *spoiled("2026-11-24T07:00:00+08:00"),
        "",
        1_764_000_000,
        None,
    ],
    "data": [None, [], "x", {}],
    "mode": [*ENUMS, "", None, 1],
    "category": [*ENUMS, "", None, 1],
    "material": [*ENUMS, "", None, 1],
    "meal": [*ENUMS, "", None, 1],
    "verified_by": [*ENUMS, "", None, 1],
    "distance_m": QUANTITIES,
    "duration_s": QUANTITIES,
    "weight_g": QUANTITIES,
    "station_id": TEXTS,
    "canteen_id": TEXTS,
    "extra": [None, 1, "x"],
}
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=70))


def spoil(item: dict[str, Any], where: str, name: str, value: Any = ...) -> dict[str, Any]:
    """A copy of item with one field of its envelope or of its data set to value (or dropped)."""
    copy = dict(item)
    target = copy
    if where == "data":
        copy["data"] = target = dict(item["data"])
    if value is ...:
        target.pop(name, None)
    else:
        target[name] = value
    return copy


@st.composite
def items(draw: st.DrawFn) -> Any:
    """Well-formed items with a few fields dropped, spoiled or added, in the envelope or its data."""
    item = draw(well_formed_items(timestamp=timestamps(well_formed=draw(st.booleans()))))
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(["envelope", "data"])) if type(item.get("data")) is dict else "envelope"
        name = draw(st.sampled_from([*(item["data"] if where == "data" else item), "extra", "material"]))
        value = draw(st.one_of(st.just(...), st.sampled_from(NEAR_MISSES[name]), anything))
        item = spoil(item, where, name, value)
    return draw(st.sampled_from([item, item, item, [item], None, "item"]))


def near_misses(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """item with each one of its fields dropped or spoiled with each of its near misses, or with
    one field too many."""
    for where, fields in (("envelope", item), ("data", item["data"])):
        for name in [*fields, "extra", "material"]:
            yield spoil(item, where, name)
            for value in NEAR_MISSES[name]:
                yield spoil(item, where, name, value)


EXAMPLE_ITEMS = [
    {"event_id": "bus-1", "user": "wx_1", "type": "trip", "occurred_at": "2026-11-24T07:00:00+08:00",
     "region": "440507", "data": {"mode": "bus", "distance_m": 5200, "duration_s": 1380}},
    {"event_id": "ws-1", "user": "wx_1", "type": "waste_sorting", "occurred_at": "2026-11-24T03:59:00Z",
     "region": "440523", "data": {"category": "kitchen", "weight_g": 800, "station_id": "ws-440523-001"}},
    {"event_id": "ws-2", "user": "wx_1", "type": "waste_sorting", "occurred_at": "2026-11-17T04:00:00Z",
     "region": "440511", "data": {"category": "recyclable", "weight_g": 1, "station_id": "s",
                                  "material": "paper"}},
    {"event_id": "cp-1", "user": "u" * 64, "type": "clean_plate", "occurred_at": "2026-11-24T04:05:00Z",
     "region": "440515", "data": {"canteen_id": "ct-1", "meal": "lunch", "verified_by": "staff"}},
]  # fmt: skip
OTHER_PERMISSIONS = [  # each lacks what one of the examples needs, or grants more than there is
    *(Permissions(frozenset(ACTION_TYPES) - {kind}, frozenset(SHANTOU_REGIONS)) for kind in ACTION_TYPES),
    *(
        Permissions(frozenset(ACTION_TYPES), frozenset(SHANTOU_REGIONS) - {region})
        for region in ("440507", "440523", "440511", "440515")
    ),
    Permissions(
        frozenset([*ACTION_TYPES, "Trip", "other"]), frozenset([*SHANTOU_REGIONS, *NEAR_MISSES["region"]])
    ),
]

permissions = st.builds(
    Permissions,
    types=st.frozensets(st.sampled_from([*ACTION_TYPES, "other"])),
    regions=st.frozensets(st.sampled_from([*SHANTOU_REGIONS, "440599", "44050"])),
)


def body_of(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {k: v for k, v in item.items() if k not in ("event_id", "user")}


class TestFastPath:
    @EXAMPLES
    @given(well_formed_items())
    def test_every_well_formed_item_takes_the_fast_path_to_the_same_action(self, item):
        assert _well_formed(item, EVERYTHING, WINDOW) is not None
        decided = validate_action(item, "p_1", EVERYTHING, WINDOW)
        # repr, not ==: an instant in another time zone would compare equal
        assert repr(decided) == repr(_validate_action_in_order(item, "p_1", EVERYTHING, WINDOW))
        assert decided.occurred_at.tzinfo is UTC  # type: ignore[union-attr]

    @pytest.mark.parametrize("item", EXAMPLE_ITEMS, ids=lambda item: str(item["type"]))
    def test_every_near_miss_of_an_item_is_decided_as_the_checks_in_order_decide_it(self, item):
        assert _well_formed(item, EVERYTHING, WINDOW) is not None
        for spoiled_item in near_misses(item):
            body = body_of(spoiled_item)
            for perms in (EVERYTHING, *OTHER_PERMISSIONS):
                expected = _validate_action_in_order(spoiled_item, "p_1", perms, WINDOW)
                assert repr(validate_action(spoiled_item, "p_1", perms, WINDOW)) == repr(expected)
                expected_body = _validate_body_in_order(body, perms, WINDOW)
                assert repr(validate_body(body, perms, WINDOW)) == repr(expected_body)

    @EXAMPLES
    @given(items(), permissions)
    def test_any_item_is_decided_as_the_checks_in_order_decide_it(self, item, perms):
        expected = _validate_action_in_order(item, "p_1", perms, WINDOW)
        assert repr(validate_action(item, "p_1", perms, WINDOW)) == repr(expected)

    @EXAMPLES
    @given(items(), permissions)
    def test_any_quoted_body_is_decided_as_the_checks_in_order_decide_it(self, item, perms):
        body = body_of(item)
        expected = _validate_body_in_order(body, perms, WINDOW)
        assert repr(validate_body(body, perms, WINDOW)) == repr(expected)


class TestWhatTheFastPathReliesOn:
    def test_every_region_of_shantou_is_a_six_digit_code(self):
        assert all(REGION.fullmatch(code) for code in SHANTOU_REGIONS)

    def test_window_bounds_are_now_less_the_age_and_now_plus_the_future(self):
        window = Window(NOW, max_age=timedelta(days=2), max_future=timedelta(seconds=60))
        assert (window.earliest, window.latest) == (NOW - timedelta(days=2), NOW + timedelta(seconds=60))
        assert window == Window(NOW, max_age=timedelta(days=2), max_future=timedelta(seconds=60))
