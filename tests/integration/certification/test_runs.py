"""Certification runs over settled outcomes in the real database: what they cover, what they
issue, the carry-over, the points they make available, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.certification.runs import certify
from backend.errors import NothingToCertify, PeriodNotBegun
from backend.models import CreditRange
from points_engine.certification import InvalidPeriod
from tests.integration.certification.seed import Seeded, balance, expected_root, seed

NOV = datetime(2026, 11, 3, 4, 5, 6, 789_000, tzinfo=UTC)


def actions(
    n: int, *, start: int = 0, book: str = "shantou", grams: int = 180_000, step: int = 37, **kw
) -> list[Seeded]:
    return [
        Seeded(
            partner_id=("transit_st", "bike_st", "waste_st")[i % 3],
            event_id=f"ev-{i:06d}",
            citizen_id=f"c_{i % 17:04d}",
            occurred_at=NOV + timedelta(minutes=step * i),
            reduction_g=grams + i,
            points=(grams + i) // 10,
            book=book,
            **kw,
        )
        for i in range(start, start + n)
    ]


async def test_a_run_covers_exactly_the_eligible_actions_and_issues_whole_tonnes(platform):
    items = actions(30)
    items += [
        Seeded("transit_st", "flagged-1", "c_0001", NOV, 5000, 500, flagged=True),
        Seeded("transit_st", "rejected-1", "c_0001", NOV, 0, 0, status="rejected"),
        Seeded("transit_st", "other-book", "c_0001", NOV, 9000, 900, book="nanao"),
        Seeded("transit_st", "october", "c_0001", NOV - timedelta(days=5), 9000, 900),
    ]
    await seed(platform, items)

    run = await certify(platform.db, "shantou", "2026-11", actor="admin:test")

    november = [
        i for i in items if i.book == "shantou" and i.occurred_at >= datetime(2026, 10, 31, 16, tzinfo=UTC)
    ]
    root, size = expected_root(november)
    grams = sum(i.reduction_g for i in november if i.eligible)
    assert (run.run_id, run.tree_size, run.root) == ("run_shantou_2026-11_000001", size, root)
    assert size == 30
    assert run.reduction_g == grams
    assert run.tonnes == grams // 1_000_000 and run.carry_out_g == grams % 1_000_000
    assert run.serial == f"TH-SHANTOU-2026-000001-000000001-{run.tonnes:09d}"
    assert run.status == "complete"
    # Points of the certified actions moved to available; the flagged action's stay pending.
    certified = sum(i.points for i in november if i.eligible and i.citizen_id == "c_0001")
    assert await balance(platform, "citizen:c_0001:available") == certified
    assert await balance(platform, "citizen:c_0001:pending") == 500 + 900 + 900


async def test_running_the_same_period_again_issues_nothing_and_late_actions_make_a_run_of_their_own(
    platform,
):
    await seed(platform, actions(20))
    first = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    with pytest.raises(NothingToCertify):
        await certify(platform.db, "shantou", "2026-11", actor="admin:test")

    late = actions(8, start=100)
    await seed(platform, late)
    second = await certify(platform.db, "shantou", "2026-11", actor="admin:test")

    assert second.number == 2 and second.tree_size == 8
    assert second.root == expected_root(late)[0]
    assert second.carry_in_g == first.carry_out_g
    total = first.reduction_g + second.reduction_g
    assert (first.tonnes + second.tonnes) * 1_000_000 + second.carry_out_g == total
    async with platform.db.read() as conn:
        serials = sorted(r.serial for r in await conn.execute(select(CreditRange)))
    assert serials == sorted(s for s in (first.serial, second.serial) if s is not None), (
        "one range per run that reached a tonne"
    )


async def test_the_books_are_certified_apart(platform):
    await seed(platform, actions(10, book="nanao") + actions(10, start=50))
    nanao = await certify(platform.db, "nanao", "2026-11", actor="admin:test")
    shantou = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    assert nanao.tree_size == shantou.tree_size == 10
    assert nanao.number == shantou.number == 1
    assert nanao.serial is not None and nanao.serial.startswith("TH-NANAO-2026-000001-")


async def test_a_period_that_has_not_begun_or_is_malformed_is_refused(platform):
    await seed(platform, actions(3))
    with pytest.raises(PeriodNotBegun):
        await certify(platform.db, "shantou", "2999-01", actor="admin:test")
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", ""):
        with pytest.raises(InvalidPeriod):
            await certify(platform.db, "shantou", bad, actor="admin:test")
