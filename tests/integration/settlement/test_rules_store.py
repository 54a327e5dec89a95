"""Rules states in Redis: packed, stamped with the lease epoch; the JSON of earlier workers still read."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from backend.settlement.rules_store import RulesStore
from points_engine.actions import Action, ActionBody, CleanPlate, Trip, WasteSorting
from points_engine.methodologies import default_catalog
from points_engine.records import Accepted
from points_engine.rules import CitizenState, Policy
from points_engine.settlement import settle

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def states() -> dict[str, CitizenState]:
    """Two citizens' states after a trip, a waste sorting and a meal each."""
    items = [
        Accepted(
            citizen,
            Action("p_1", f"{citizen}-{i}", "u", ActionBody(kind, AT.replace(hour=i), "440507", data)),
        )
        for citizen in ("c_a", "c_b")
        for i, (kind, data) in enumerate(
            [
                ("trip", Trip("bike", 3000, 900)),
                ("waste_sorting", WasteSorting("recyclable", 800, "s_1", "paper")),
                ("clean_plate", CleanPlate("k_1", "lunch", "staff")),
            ]
        )
    ]
    return settle(items, {}, default_catalog(), Policy.default())[1]


class TestRulesStore:
    async def test_stored_states_load_back_equal_under_the_same_epoch(self, platform) -> None:
        store, stored = RulesStore(platform.hot, platform.keys), states()
        await store.store(stored, epoch=3)
        assert await store.load(["c_a", "c_b", "c_new"], epoch=3) == stored

    async def test_a_state_of_another_epoch_is_not_trusted(self, platform) -> None:
        store = RulesStore(platform.hot, platform.keys)
        await store.store(states(), epoch=3)
        assert await store.load(["c_a", "c_b"], epoch=4) == {}

    async def test_a_state_stored_as_json_by_an_earlier_worker_still_loads(self, platform) -> None:
        store, stored = RulesStore(platform.hot, platform.keys), states()
        await platform.redis.set(
            platform.keys.rules_state("c_a"), b"3|" + orjson.dumps(stored["c_a"].to_json())
        )
        assert await store.load(["c_a"], epoch=3) == {"c_a": stored["c_a"]}

    async def test_an_unreadable_state_is_left_to_be_rebuilt(self, platform) -> None:
        store = RulesStore(platform.hot, platform.keys)
        await platform.redis.set(platform.keys.rules_state("c_a"), b"3|{not json")
        await platform.redis.set(platform.keys.rules_state("c_b"), b"3|\x02\x00\x00")
        assert await store.load(["c_a", "c_b"], epoch=3) == {}

    async def test_a_state_of_a_newer_epoch_is_never_overwritten(self, platform) -> None:
        store, stored = RulesStore(platform.hot, platform.keys), states()
        await store.store({"c_a": stored["c_a"]}, epoch=5)
        await store.store({"c_a": CitizenState()}, epoch=4)
        assert await store.load(["c_a"], epoch=5) == {"c_a": stored["c_a"]}

    async def test_a_state_beyond_64_bits_is_stored_as_json(self, platform) -> None:
        store, huge = RulesStore(platform.hot, platform.keys), CitizenState(latest_us=2**63)
        await store.store({"c_a": huge}, epoch=3)
        assert (await platform.redis.get(platform.keys.rules_state("c_a"))).startswith(b"3|{")
        assert await store.load(["c_a"], epoch=3) == {"c_a": huge}
