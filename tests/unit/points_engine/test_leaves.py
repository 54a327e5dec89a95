"""The canonical leaf record of a certified action, the order of leaves in a run, and serial ranges."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from points_engine.certification import (
    LEAF_FIELDS,
    InvalidLeafRecord,
    InvalidSerial,
    SerialRange,
    leaf_order_key,
    leaf_record,
    parse_serial,
    root,
    serial,
)

SHANGHAI = timezone(timedelta(hours=8))


def make_leaf(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "book": "nanao",
        "citizen_id": "c_8f3a9c2b",
        "event_id": "bus-20261124-000001",
        "methodology": "trip.bus@2026.1",
        "occurred_at": datetime(2026, 11, 24, 8, 15, 0, tzinfo=SHANGHAI),
        "partner_id": "transit_st",
        "reduction_g": 139,
    }
    fields.update(overrides)
    return leaf_record(**fields)  # type: ignore[arg-type]


def canonical_json(record: dict[str, object]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# Anything but C0 controls, DEL and lone surrogates (refused, see below); C1 controls are fine.
text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[*map(chr, range(32)), "\x7f"]),
    min_size=1,
    max_size=20,
)


class TestLeafRecord:
    def test_the_record_is_sorted_compact_json_of_exactly_seven_fields(self):
        assert make_leaf() == (
            b'{"book":"nanao","citizen_id":"c_8f3a9c2b","event_id":"bus-20261124-000001",'
            b'"methodology":"trip.bus@2026.1","occurred_at":"2026-11-24T00:15:00Z",'
            b'"partner_id":"transit_st","reduction_g":139}'
        )
        assert tuple(json.loads(make_leaf())) == LEAF_FIELDS

    def test_a_shanghai_time_is_rendered_in_utc_even_across_midnight_and_months(self):
        leaf = make_leaf(occurred_at=datetime(2026, 12, 1, 7, 30, tzinfo=SHANGHAI))
        assert json.loads(leaf)["occurred_at"] == "2026-11-30T23:30:00Z"

    def test_sub_seconds_are_truncated_never_rounded(self):
        leaf = make_leaf(occurred_at=datetime(2026, 11, 30, 23, 59, 59, 999_999, tzinfo=UTC))
        assert json.loads(leaf)["occurred_at"] == "2026-11-30T23:59:59Z"

    def test_non_ascii_is_written_as_utf8_not_escaped(self):
        leaf = make_leaf(citizen_id="c_汕头")
        assert '"citizen_id":"c_汕头"'.encode() in leaf

    def test_quotes_and_backslashes_are_escaped_as_json_does(self):
        leaf = make_leaf(event_id='a"b\\c')
        assert b'"event_id":"a\\"b\\\\c"' in leaf
        assert json.loads(leaf)["event_id"] == 'a"b\\c'

    @given(
        st.sampled_from(["shantou", "nanao"]),
        text,
        text,
        text,
        st.datetimes(timezones=st.just(UTC)),
        text,
        st.integers(0, 10**12),
    )
    def test_the_record_is_what_json_dumps_with_sorted_keys_writes(
        self, book, citizen_id, event_id, methodology, at, partner_id, reduction_g
    ):
        leaf = leaf_record(
            book=book,
            citizen_id=citizen_id,
            event_id=event_id,
            methodology=methodology,
            occurred_at=at,
            partner_id=partner_id,
            reduction_g=reduction_g,
        )
        record = json.loads(leaf)
        assert canonical_json(record) == leaf
        assert record["occurred_at"] == at.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
        assert (record["citizen_id"], record["event_id"], record["reduction_g"]) == (
            citizen_id,
            event_id,
            reduction_g,
        )

    @pytest.mark.parametrize("reduction_g", [True, 139.0, -1, "139", None])
    def test_a_reduction_that_is_not_a_non_negative_int_is_refused(self, reduction_g):
        with pytest.raises(InvalidLeafRecord) as raised:
            make_leaf(reduction_g=reduction_g)
        assert raised.value.code == "invalid-leaf-record"
        assert raised.value.field == "reduction_g"

    def test_a_naive_time_is_refused(self):
        with pytest.raises(InvalidLeafRecord) as raised:
            make_leaf(occurred_at=datetime(2026, 11, 24, 8, 15))
        assert raised.value.field == "occurred_at"

    def test_a_time_that_leaves_the_calendar_in_utc_is_refused(self):
        with pytest.raises(InvalidLeafRecord) as raised:
            make_leaf(occurred_at=datetime(1, 1, 1, 2, tzinfo=SHANGHAI))
        assert raised.value.field == "occurred_at"

    def test_an_unknown_book_is_refused(self):
        with pytest.raises(InvalidLeafRecord) as raised:
            make_leaf(book="guangzhou")
        assert raised.value.field == "book"

    @pytest.mark.parametrize("value", ["", "a\nb", "tab\there", "\x7f", "\ud800", 42])
    def test_empty_unportable_or_non_string_ids_are_refused(self, value):
        with pytest.raises(InvalidLeafRecord) as raised:
            make_leaf(event_id=value)
        assert raised.value.field == "event_id"


class TestWorkedExample:
    def test_the_three_leaf_run_of_docs_proofs_md_has_the_root_printed_there(self):
        """The format is binding: this root is published in the docs and must never change."""
        actions = [
            ("transit_st", "bus-20261124-000001", "c_3Fq9", "trip.bus@2026.1", (2026, 11, 24, 8, 15, 0), 139),
            ("bike_st", "ride-88412", "c_7Qk2", "trip.bike@2026.1", (2026, 11, 24, 18, 2, 31), 96),
            ("transit_st", "bus-20261125-000417", "c_7Qk2", "trip.bus@2026.1", (2026, 11, 25, 7, 48, 9), 228),
        ]
        actions.sort(key=lambda a: leaf_order_key(a[0], a[1]))
        leaves = [
            leaf_record(
                book="nanao",
                citizen_id=citizen,
                event_id=event,
                methodology=methodology,
                occurred_at=datetime(*at, tzinfo=SHANGHAI),
                partner_id=partner,
                reduction_g=grams,
            )
            for partner, event, citizen, methodology, at, grams in actions
        ]
        assert [json.loads(leaf)["event_id"] for leaf in leaves] == [
            "ride-88412",
            "bus-20261124-000001",
            "bus-20261125-000417",
        ]
        assert root(leaves).hex() == "9f57ac80d7a4818a365a797fa606f98be1ecf63229b391f09ae75f91f11258be"


class TestLeafOrder:
    def test_leaves_sort_by_partner_then_event_id_by_code_point(self):
        keys = [
            ("transit_st", "bus-9"),
            ("bike_st", "z"),
            ("transit_st", "bus-10"),
            ("transit_st", "Bus-99"),
            ("bike", "zz"),
        ]
        assert sorted(keys, key=lambda k: leaf_order_key(*k)) == [
            ("bike", "zz"),
            ("bike_st", "z"),
            ("transit_st", "Bus-99"),
            ("transit_st", "bus-10"),
            ("transit_st", "bus-9"),
        ]

    @given(st.lists(st.tuples(text, text), max_size=30))
    def test_code_point_order_is_utf8_byte_order(self, keys):
        by_key = sorted(keys, key=lambda k: leaf_order_key(*k))
        by_bytes = sorted(keys, key=lambda k: (k[0].encode(), k[1].encode()))
        assert by_key == by_bytes


class TestSerials:
    def test_a_serial_names_book_vintage_run_and_first_and_last_tonne(self):
        assert serial("nanao", 2026, 3, 1, 42) == "TH-NANAO-2026-000003-000000001-000000042"
        assert serial("shantou", 2026, 12, 43, 43) == "TH-SHANTOU-2026-000012-000000043-000000043"

    def test_parsing_gives_back_the_range(self):
        parsed = parse_serial("TH-NANAO-2026-000003-000000001-000000042")
        assert parsed == SerialRange("nanao", 2026, 3, 1, 42)
        assert parsed.tonnes == 42

    @given(
        st.sampled_from(["shantou", "nanao"]),
        st.integers(1000, 9999),
        st.integers(1, 999_999),
        st.integers(1, 999_999_999),
        st.integers(0, 999_999_998),
    )
    def test_every_valid_serial_round_trips(self, book, vintage, run, start, extra):
        end = min(start + extra, 999_999_999)
        text = serial(book, vintage, run, start, end)
        assert len(text) == len("TH--2026-000003-000000001-000000042") + len(book)
        assert str(parse_serial(text)) == text
        assert parse_serial(text) == SerialRange(book, vintage, run, start, end)

    @pytest.mark.parametrize(
        "text",
        [
            "TH-nanao-2026-000003-000000001-000000042",  # the book is upper-case
            "TH-GUANGZHOU-2026-000003-000000001-000000042",  # no such book
            "TH-NANAO-26-000003-000000001-000000042",  # vintage is four digits
            "TH-NANAO-2026-3-1-42",  # fields are zero-padded
            "TH-NANAO-2026-000003-000000001-000000042 ",
            "TH-NANAO-２０２６-000003-000000001-000000042",  # only ASCII digits
            "TH-NANAO-2026-000000-000000001-000000042",  # runs count from 1
            "TH-NANAO-2026-000003-000000000-000000042",  # tonnes count from 1
            "TH-NANAO-2026-000003-000000043-000000042",  # end before start
            "TH-NANAO-0999-000003-000000001-000000042",
        ],
    )
    def test_a_malformed_serial_is_refused_with_a_stable_code(self, text):
        with pytest.raises(InvalidSerial) as raised:
            parse_serial(text)
        assert raised.value.code == "invalid-serial"
        assert raised.value.text == text

    @pytest.mark.parametrize(
        "args",
        [
            ("nanao", 2026, 0, 1, 1),
            ("nanao", 2026, 1_000_000, 1, 1),
            ("nanao", 2026, 1, 5, 4),
            ("nanao", 2026, 1, 1, 1_000_000_000),
            ("nanao", 12026, 1, 1, 1),
            ("nanao", 2026, True, 1, 1),
            ("xiamen", 2026, 1, 1, 1),
        ],
    )
    def test_a_range_out_of_bounds_has_no_serial(self, args):
        with pytest.raises(InvalidSerial):
            serial(*args)
