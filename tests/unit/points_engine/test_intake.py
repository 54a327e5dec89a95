"""The content hash that tells a retry from a conflict keeps its bytes across implementations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from points_engine.actions import (
    MATERIALS,
    MEALS,
    TRIP_MODES,
    VERIFIERS,
    WASTE_CATEGORIES,
    Action,
    ActionBody,
    CleanPlate,
    Trip,
    WasteSorting,
)
from points_engine.intake import canonical_content, utc_text
from points_engine.records import data_fields


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64), st.integers(1, 10**9))
def test_orjson_bytes_equal_the_json_dumps_bytes_hashes_were_stored_with(user, station, weight):
    content = {
        "user": user,
        "type": "waste_sorting",
        "occurred_at": "2026-11-24T00:15:00Z",
        "region": "440507",
        "data": {"category": "kitchen", "weight_g": weight, "station_id": station},
    }
    try:
        expected = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # lone surrogates: intake's JSON parser never lets one through
        return
    assert orjson.dumps(content, option=orjson.OPT_SORT_KEYS) == expected


# The reference renderings the faster code must keep to, byte for byte.
def isoformat_utc_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


fixed_offsets = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
aware = st.datetimes(timezones=st.builds(timezone, fixed_offsets))


@given(st.one_of(aware, st.datetimes(timezones=st.just(UTC))))
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=timezone(timedelta(hours=-8))))
def test_utc_text_renders_any_instant_as_isoformat_does(at):
    try:
        expected = isoformat_utc_text(at)
    except OverflowError:  # outside datetime's range once in UTC
        with pytest.raises(OverflowError):
            utc_text(at)
        return
    assert utc_text(at) == expected


quantities = st.integers(1, 10**9)
any_data = st.one_of(
    st.builds(Trip, st.sampled_from(TRIP_MODES), quantities, quantities),
    st.builds(
        WasteSorting,
        st.sampled_from(WASTE_CATEGORIES),
        quantities,
        st.text(min_size=1, max_size=64),
        st.sampled_from((*MATERIALS, None)),
    ),
    st.builds(
        CleanPlate, st.text(min_size=1, max_size=64), st.sampled_from(MEALS), st.sampled_from(VERIFIERS)
    ),
)


@given(any_data, aware)
def test_canonical_content_keeps_the_fields_and_their_order_as_reported(data, at):
    kind = {Trip: "trip", WasteSorting: "waste_sorting", CleanPlate: "clean_plate"}[type(data)]
    action = Action("p_1", "e-1", "wx_1", ActionBody(kind, at, "440507", data))  # type: ignore[arg-type]
    content = canonical_content(action)
    assert list(content["data"].items()) == list(data_fields(data).items())
    assert content == {
        "user": "wx_1",
        "type": kind,
        "occurred_at": isoformat_utc_text(at),
        "region": "440507",
        "data": data_fields(data),
    }
