"""The Nan'ao pilot report over a real database: every number against the seeded world, computed
independently in tests/integration/reports/seed.py, and its targets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.errors import InvalidTarget
from backend.models import AuditRecord
from backend.reports import targets
from backend.reports.pilot import ROW_COLUMNS, pilot_report, reductions_query
from tests.conftest import BACKEND
from tests.e2e.partner_api.test_signing import count_rows
from tests.integration.reports.seed import YEAR, build_world, expected_report


def without_volatile(doc: dict) -> dict:
    """The report minus what only the clock decides (generation time, the runs' roots and times)."""
    doc = {**doc, "certified": {**doc["certified"]}}
    doc.pop("generated_at", None)
    doc["certified"]["runs"] = [
        {k: v for k, v in r.items() if k not in ("root", "issued_at", "status")}
        for r in doc["certified"]["runs"]
    ]
    return doc


class TestPilotReport:
    async def test_every_number_matches_the_seeded_world(self, platform):
        world = await build_world(platform)
        await targets.set_target(platform.db, YEAR, world.target_t, actor="op_admin")

        report = await pilot_report(platform.db, YEAR)

        assert without_volatile(report.as_json()) == expected_report(world)

    async def test_the_numbers_that_matter_by_hand(self, platform):
        """The same report, a few figures spelled out: what the edge cases must come to."""
        await build_world(platform)
        await targets.set_target(platform.db, YEAR, 9, actor="op_admin")

        doc = (await pilot_report(platform.db, YEAR)).as_json()

        # January holds its 24 actions and the one at 00:30 on New Year's Day in Shanghai (16:30 UTC
        # the day before); February the one at its first instant; December the last minute of the year.
        months = {m["month"]: m["actions"] for m in doc["reductions"]["by_month"]}
        assert months == {
            "2026-01": 25, "2026-02": 1, "2026-03": 9, "2026-04": 0, "2026-05": 0, "2026-06": 0,
            "2026-07": 1, "2026-08": 0, "2026-09": 0, "2026-10": 0, "2026-11": 0, "2026-12": 1,
        }  # fmt: skip
        assert doc["flagged"] == {
            "actions": 3,
            "grams": 450_000 + 150_000 + 80_000,
            "awaiting_review": 1,
            "approved": 1,
            "rejected": 1,
        }
        # 2025-12 issued 1 t (carry 500,000 g); January 13 t; March 6 t with the approved flagged one.
        assert [(r["period"], r["tonnes"]) for r in doc["certified"]["runs"]] == [
            ("2026-01", 13),
            ("2026-03", 6),
        ]
        assert doc["credits"] == {
            "total_t": 19,
            "retired_for_pilot_t": 5,  # 3 of January and 2 of March; the 2025 tonne is another year's
            "held_by_pilot_t": 2,
            "sold_t": 4,  # retired by one buyer, still held by another
            "held_by_book_t": 8,
            "other_t": 0,
        }
        assert doc["progress"] == {"per_mille": 555, "percent": "55.5%"}

    async def test_a_year_without_a_target_has_no_progress_and_a_year_without_anything_is_zeros(
        self, platform
    ):
        world = await build_world(platform)

        doc = (await pilot_report(platform.db, YEAR)).as_json()
        assert doc["target_t"] is None and doc["progress"] is None
        assert (
            doc["credits"]["retired_for_pilot_t"] == expected_report(world)["credits"]["retired_for_pilot_t"]
        )

        empty = (await pilot_report(platform.db, 2031)).as_json()
        assert empty["reductions"]["total"] == {"actions": 0, "grams": 0, "points": 0}
        assert [m["actions"] for m in empty["reductions"]["by_month"]] == [0] * 12
        assert empty["certified"]["runs"] == [] and empty["credits"]["total_t"] == 0

    async def test_the_previous_year_counts_only_its_own_vintage(self, platform):
        world = await build_world(platform)
        await targets.set_target(platform.db, YEAR - 1, 4, actor="op_admin")
        world.target_t = 4

        doc = (await pilot_report(platform.db, YEAR - 1)).as_json()

        assert without_volatile(doc) == expected_report(world, YEAR - 1)
        assert doc["credits"]["retired_for_pilot_t"] == 1 and doc["progress"]["percent"] == "25.0%"

    async def test_the_rows_hold_every_figure_of_the_json_once(self, platform):
        await build_world(platform)
        report = await pilot_report(platform.db, YEAR)
        rows = list(report.rows())
        assert all(len(r) == len(ROW_COLUMNS) for r in rows)
        keys = [(s, k, m) for s, k, m, _ in rows]
        assert len(keys) == len(set(keys))
        doc = report.as_json()
        flat = {(s, k, m): v for s, k, m, v in rows}
        assert flat[("credits", "", "sold_t")] == doc["credits"]["sold_t"]
        assert flat[("reductions.by_month_and_type", "2026-03/trip", "grams")] == next(
            x["grams"]
            for x in doc["reductions"]["by_month_and_type"]
            if (x["month"], x["type"]) == ("2026-03", "trip")
        )
        run = doc["certified"]["runs"][0]
        assert flat[("certified.runs", run["run_id"], "tonnes")] == run["tonnes"]


class TestTargets:
    async def test_setting_replacing_and_repeating_a_target(self, platform):
        first = await targets.set_target(platform.db, YEAR, 120, actor="op_a")
        again = await targets.set_target(platform.db, YEAR, 120, actor="op_b")
        replaced = await targets.set_target(platform.db, YEAR, 150, actor="op_c")
        await targets.set_target(platform.db, YEAR + 1, 200, actor="op_a")

        assert (first.target_t, again.set_by, replaced.target_t, replaced.set_by) == (
            120,
            "op_a",
            150,
            "op_c",
        )
        assert [(t.year, t.target_t) for t in await targets.list_targets(platform.db)] == [
            (YEAR, 150),
            (YEAR + 1, 200),
        ]
        async with platform.db.read() as conn:
            events = list(await conn.execute(select(AuditRecord).order_by(AuditRecord.seq)))
        assert [(e.action, e.subject, e.details) for e in events] == [
            ("pilot.target-set", "pilot:nanao:2026", {"year": 2026, "target_t": 120, "previous": None}),
            ("pilot.target-set", "pilot:nanao:2026", {"year": 2026, "target_t": 150, "previous": 120}),
            ("pilot.target-set", "pilot:nanao:2027", {"year": 2027, "target_t": 200, "previous": None}),
        ]

    @pytest.mark.parametrize(
        ("year", "target_t"),
        [
            (YEAR, 0),
            (YEAR, -5),
            (YEAR, 1.5),
            (YEAR, 10.0),
            (YEAR, "10"),
            (YEAR, True),
            (YEAR, None),
            (YEAR, 100_000_001),
            (YEAR, 2**70),
            (1999, 10),
            (9999, 10),
        ],
    )
    async def test_a_bad_target_is_refused_and_nothing_is_stored(self, platform, year, target_t):
        with pytest.raises(InvalidTarget):
            await targets.set_target(platform.db, year, target_t, actor="op_admin")
        assert await count_rows(platform, "pilot_targets") == 0
        assert await count_rows(platform, "audit_log") == 0

    async def test_the_largest_target_and_the_extreme_years_are_accepted(self, platform):
        for year in (2000, 9998):
            await targets.set_target(platform.db, year, targets.MAX_TARGET_T, actor="op_admin")
        assert await count_rows(platform, "pilot_targets") == 2


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's plan")
async def test_the_pilot_reads_its_outcomes_through_the_index_partial_on_its_book(platform):
    """Only Nan'ao's outcomes are indexed by time (every settled action paid for a full index); the
    report's query must imply the index's predicate, or it would scan every outcome of the city."""
    query = reductions_query(YEAR)
    async with platform.db.read() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = (await conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)).scalars().all()
    assert any("ix_outcomes_nanao_occurred" in line for line in plan), "\n".join(plan)
