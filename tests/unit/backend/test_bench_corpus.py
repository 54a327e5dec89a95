"""Planning the benchmark's request bodies from a corpus of actions."""

from __future__ import annotations

from datetime import date

import orjson

from backend.bench.corpus import Corpus, Workload, plan, recent_days
from backend.bench.population import population_key


def corpus(sizes: dict[str, int]) -> Corpus:
    made = Corpus(days=[date(2026, 11, 24)], seed=1)
    for kind, size in sizes.items():
        made.actions[kind] = [
            (f"u_{kind}_{i % 7}", orjson.dumps({"event_id": f"{kind}-{i}", "user": f"u_{kind}_{i % 7}"}))
            for i in range(size)
        ]
        made.mobiles[kind] = {f"u_{kind}_{i}": f"+8613800000{i:03d}" for i in range(7)}
    return made


def event_ids(body: bytes) -> list[str]:
    return [action["event_id"] for action in orjson.loads(body)["actions"]]


class TestPlan:
    def test_batches_are_full_hold_one_partner_each_and_partners_take_turns(self) -> None:
        workload = plan(corpus({"transit": 35, "bike": 25, "waste": 5, "canteen": 0}), 4, 10, 0)
        assert workload is not None
        assert [kind for kind, _ in workload.batches] == ["transit", "bike", "transit", "bike"]
        for kind, body in workload.batches:
            ids = event_ids(body)
            assert len(ids) == 10 and all(i.startswith(kind + "-") for i in ids)

    def test_single_actions_come_from_what_the_batches_left_and_no_action_is_sent_twice(self) -> None:
        workload = plan(corpus({"transit": 35, "bike": 25, "waste": 5, "canteen": 0}), 4, 10, 20)
        assert workload is not None
        sent = [i for _, body in workload.batches + workload.singles for i in event_ids(body)]
        assert len(workload.singles) == 20 and len(sent) == len(set(sent)) == 60
        assert workload.distinct_actions == 60

    def test_every_user_sent_is_bound_with_its_mobile(self) -> None:
        workload = plan(corpus({"transit": 20, "bike": 0, "waste": 0, "canteen": 0}), 2, 10, 0)
        assert workload is not None
        assert workload.bindings["transit"] == [(f"u_transit_{i}", f"+8613800000{i:03d}") for i in range(7)]
        assert workload.bindings["bike"] == []

    def test_a_corpus_too_small_plans_nothing(self) -> None:
        assert plan(corpus({"transit": 15, "bike": 0, "waste": 0, "canteen": 0}), 2, 10, 0) is None
        assert plan(corpus({"transit": 25, "bike": 0, "waste": 0, "canteen": 0}), 2, 10, 6) is None


def test_recent_days_stay_inside_the_seven_day_window() -> None:
    assert recent_days(date(2026, 11, 25)) == [date(2026, 11, d) for d in (24, 23, 22, 21, 20, 19)]


def test_each_cache_of_secrets_has_its_own_template(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two checkouts benching on one server must not replace each other's template: the secrets
    of a template live in the cache of the checkout that built it."""
    workload = Workload(batches=[("transit", b"{}")], singles=[], bindings={}, batch_actions=1)
    main, worktree = tmp_path / "main" / "cache", tmp_path / "worktree" / "cache"
    assert population_key("corpus", workload, main) == population_key("corpus", workload, main)
    assert population_key("corpus", workload, main) != population_key("corpus", workload, worktree)
    assert population_key("corpus", workload, main) != population_key("other", workload, main)
