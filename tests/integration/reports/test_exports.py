"""The auditors' exports over a real database: each table's rows against the seeded world."""

from __future__ import annotations

from typing import Any

from backend.reports import exports
from backend.reports.writers import Table
from tests.integration.reports.seed import (
    ACCOUNT_KINDS,
    build_world,
    expected_pieces,
    expected_runs,
    expected_totals,
)


async def rows(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) async for row in table.rows]


async def test_runs_lists_every_run_with_its_numbers_and_serial(platform):
    world = await build_world(platform)

    got = await rows(exports.runs(platform.db))

    assert [r["run_id"] for r in got] == [
        "run_nanao_2025-12_000001",
        "run_nanao_2026-01_000002",
        "run_nanao_2026-03_000003",
        "run_shantou_2026-01_000001",
    ]
    expected = expected_runs(world, "nanao") + expected_runs(world, "shantou")
    for row, want in zip(got, expected, strict=True):
        assert {k: row[k] for k in want} == want
        record = world.runs[row["run_id"]].as_dict()
        assert row == {c: record[c] for c in exports.RUN_COLUMNS}  # the serial of the range it issued


async def test_ranges_lists_the_current_pieces_and_never_a_split_parent(platform):
    world = await build_world(platform)

    got = await rows(exports.ranges(platform.db))

    want = [
        {
            "serial": p.serial,
            "book": run.book,
            "vintage": run.vintage,
            "run_id": run.run_id,
            "first": p.first,
            "last": p.last,
            "tonnes": p.tonnes,
            "account_id": p.account,
            "account_kind": ACCOUNT_KINDS[p.account],
            "status": p.status,
            "beneficiary": p.beneficiary,
            "purpose": p.purpose,
        }
        for run, p in expected_pieces(world)
    ]
    assert [{k: r[k] for k in want[0]} for r in got] == want
    assert all(r["status"] in ("active", "retired") for r in got)
    assert all((r["retired_at"] is None) == (r["status"] == "active") for r in got)
    issued = sum(r.tonnes for r in world.runs.values())
    assert sum(r["tonnes"] for r in got) == issued, "pieces add up to what the runs issued"


async def test_retirements_lists_the_retired_pieces_with_beneficiary_and_purpose(platform):
    world = await build_world(platform)

    got = await rows(exports.retirements(platform.db))

    want = sorted(
        (p.serial, p.tonnes, p.account, p.beneficiary, p.purpose)
        for _, p in expected_pieces(world)
        if p.status == "retired"
    )
    assert (
        sorted((r["serial"], r["tonnes"], r["account_id"], r["beneficiary"], r["purpose"]) for r in got)
        == want
    )
    assert len(got) == 4


async def test_partner_totals_match_the_outcomes_and_the_runs(platform):
    world = await build_world(platform)

    got = await rows(exports.partners(platform.db))

    assert {r["partner_id"]: tuple(r[c] for c in exports.TOTAL_COLUMNS) for r in got} == expected_totals(
        world, "partner_id"
    )
    assert [r["partner_id"] for r in got] == sorted(r["partner_id"] for r in got)
    assert all(r["name"] is None for r in got)  # seeded straight into outcomes: no partner rows


async def test_methodology_totals_match_the_outcomes_and_the_runs(platform):
    world = await build_world(platform)

    got = await rows(exports.methodologies(platform.db))

    totals = {r["methodology"]: tuple(r[c] for c in exports.TOTAL_COLUMNS) for r in got}
    assert totals == expected_totals(world, "methodology")
    certified = sum(t[-1] for t in totals.values())
    assert certified == sum(r.reduction_g for r in world.runs.values())


async def test_every_export_of_an_empty_platform_is_its_header_alone(platform):
    for make in exports.EXPORTS.values():
        assert await rows(make(platform.db)) == []
