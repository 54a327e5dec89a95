"""Concurrent operations on one piece: its row is locked, so exactly one of them succeeds, the
others find it split or retired, and the run's tonnes are conserved (its active and retired
pieces tile 1..tonnes exactly). On SQLite the single writer serialises them; the outcome is the same."""

from __future__ import annotations

import asyncio

from backend.errors import AppError, RangeNotActive
from backend.registry import create_buyer, retire, transfer
from tests.integration.registry.factories import assert_tiles, issue_run, snapshot

CONTENDERS = 20


async def _outcomes(coros) -> tuple[list, list]:
    results = await asyncio.gather(*coros, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, AppError)]
    assert not unexpected, unexpected
    return [r for r in results if not isinstance(r, BaseException)], [
        r for r in results if isinstance(r, AppError)
    ]


async def test_of_twenty_concurrent_operations_on_one_piece_exactly_one_succeeds(platform):
    # given: a piece of 20 tonnes and 20 buyers
    run = await issue_run(platform, tonnes=CONTENDERS)
    buyers = [f"buyer-{i:02d}" for i in range(CONTENDERS)]
    for b in buyers:
        await create_buyer(platform.db, b, b, actor="op_admin")
    events = (await snapshot(platform))["audit_events"]

    # when: each moves or retires a different part of it (or all of it), all at once
    def operation(i: int):
        if i % 4 == 0:
            return retire(platform.db, run.serial, buyers[i], "race", "op_admin", first=i + 1, last=i + 1)
        if i % 4 == 1:
            return retire(platform.db, run.serial, buyers[i], "race", "op_admin")
        return transfer(platform.db, run.serial, buyers[i], "op_admin", first=i + 1)

    won, lost = await _outcomes(operation(i) for i in range(CONTENDERS))

    # then
    assert len(won) == 1 and len(lost) == CONTENDERS - 1
    assert all(isinstance(e, RangeNotActive) for e in lost), {e.code for e in lost}
    pieces = await assert_tiles(platform, run)
    assert [p.serial for p in pieces] == [p.serial for p in won[0].pieces]
    assert (await snapshot(platform))["audit_events"] == events + 1


async def test_concurrent_operations_on_different_pieces_all_succeed_and_conserve_tonnes(platform):
    run = await issue_run(platform, tonnes=12)
    await create_buyer(platform.db, "acme-corp", "Acme", actor="op_admin")
    # Cut the run into six pieces of two tonnes, then act on all six at once.
    pieces = [run.serial]
    for cut in (2, 4, 6, 8, 10):
        result = await transfer(platform.db, pieces.pop(), "nanao-pilot", "op_admin", last=cut)
        pieces += [p.serial for p in result.pieces]
    holders = {p.serial: p.account_id for p in await assert_tiles(platform, run)}
    assert len(holders) == 6

    won, lost = await _outcomes(
        retire(platform.db, s, "Acme", "p", "op_admin")
        if i % 2
        else transfer(platform.db, s, "acme-corp", "op_admin")
        for i, s in enumerate(sorted(holders))
    )

    assert (len(won), lost) == (6, [])
    final = await assert_tiles(platform, run)
    assert [p.status for p in final] == ["active", "retired"] * 3
