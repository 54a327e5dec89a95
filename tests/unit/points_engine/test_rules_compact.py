"""The packed rules state (what Redis holds): it round-trips exactly and refuses what no state packs to."""

from __future__ import annotations

import struct
from datetime import date

import pytest

from points_engine.rules import CitizenDayState, CitizenState, InvalidRulesState
from points_engine.rules.compact import FORMAT, pack, unpack

MONDAY = date(2026, 11, 23)
BUSY = CitizenState(
    latest_us=1_795_000_000_000_000,
    days=(
        CitizenDayState(MONDAY, trips=2, distances=((800, 1), (5_200, 1))),
        CitizenDayState(
            date(2026, 11, 24),
            trips=12,
            meals=2,
            meal_kinds=(("breakfast", 1), ("lunch", 1)),
            waste_g=20_000,
            reduction_g=5_000,
            distances=((2_000, 4),),
            weights=((500, 1), (19_500, 2)),
        ),
    ),
    spans=((1_794_900_000_000_000, 1_794_900_600_000_000), (1_794_900_600_000_000, 1_794_901_000_000_000)),
)


def ints(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


def packed(state: CitizenState) -> list[int]:
    data = pack(state)
    return list(struct.unpack(f"<{len(data) // 8}q", data))


class TestPackedState:
    @pytest.mark.parametrize("state", [CitizenState(), CitizenState(latest_us=0), BUSY])
    def test_a_packed_state_unpacks_to_an_equal_state(self, state: CitizenState) -> None:
        assert unpack(pack(state)) == state

    def test_the_layout_is_little_endian_int64s_in_the_documented_order(self) -> None:
        state = CitizenState(7, (CitizenDayState(MONDAY, 1, 0, (), 0, 40, ((900, 1),), ()),), ((5, 9),))
        day = [MONDAY.toordinal(), 1, 0, 0, 40, 0, 1, 900, 1, 0]
        assert packed(state) == [FORMAT, 1, 7, 1, 5, 9, 1, *day]
        assert packed(CitizenState()) == [FORMAT, 0, 0, 0, 0]

    @pytest.mark.parametrize(
        ("values", "why"),
        [
            ((), "empty"),
            ((1, 0, 0, 0, 0), "format 1 is JSON, never packed"),
            ((FORMAT, 2, 0, 0, 0), "has_latest is 0 or 1"),
            ((FORMAT, 0, 0, -1, 0), "a negative number of spans"),
            ((FORMAT, 0, 0, 1, 5), "a span cut short"),
            ((FORMAT, 0, 0, 1, 9, 5, 0), "a span ending before its start"),
            ((FORMAT, 0, 0, 2, 10, 20, 15, 30, 0), "overlapping spans"),
            ((FORMAT, 0, 0, 2, 15, 30, 10, 12, 0), "spans out of order"),
            ((FORMAT, 0, 0, 0, -1), "a negative number of days"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 0, 0), "a day cut short"),
            ((FORMAT, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), "ordinal 0 is no date"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), -1, 0, 0, 0, 0, 0, 0), "a negative count"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 1, 3, 1, 0, 0), "meal index 3"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 2, 1, 1, 0, 1, 0, 0), "meals unsorted"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 0, 2, 9, 1, 5, 1, 0), "distances unsorted"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 0, 1, 9, -1, 0), "seen -1 times"),
            ((FORMAT, 0, 0, 0, 1, MONDAY.toordinal(), 0, 0, 0, 0, 0, 0, 2, 7, 1), "weights cut short"),
            (
                (FORMAT, 0, 0, 0, 2, *[MONDAY.toordinal(), 0, 0, 0, 0, 0, 0, 0] * 2),
                "the same day twice",
            ),
            ((FORMAT, 0, 0, 0, 0, 0), "a trailing integer"),
        ],
    )
    def test_bytes_no_state_packs_to_are_refused(self, values: tuple[int, ...], why: str) -> None:
        with pytest.raises(InvalidRulesState):
            unpack(ints(*values))

    def test_bytes_that_are_not_whole_integers_are_refused(self) -> None:
        with pytest.raises(InvalidRulesState):
            unpack(pack(BUSY)[:-1])

    def test_a_value_beyond_64_bits_cannot_be_packed(self) -> None:
        with pytest.raises(OverflowError):
            pack(CitizenState(latest_us=2**63))
