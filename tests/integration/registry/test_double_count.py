"""No tonne is counted twice: a Nan'ao tonne retired for the pilot's neutrality claim is never also
sold, a tonne sold to a buyer never also counts for the pilot, and no Nan'ao tonne ever enters the
Shantou book. One piece has one holder and retirement is final, so each attempt is refused, and
leaves the registry as it was."""

from __future__ import annotations

import pytest

from backend.errors import CrossBook, RangeNotActive
from backend.registry import list_accounts, retire, transfer
from points_engine.certification import serial
from tests.integration.registry.factories import assert_tiles, issue_run, make_buyer, snapshot


def nanao(first: int, last: int) -> str:
    return serial("nanao", 2026, 1, first, last)


async def holdings(platform) -> dict[str, dict[str, tuple[int, int]]]:
    return {
        a.account_id: {h.book: (h.active_t, h.retired_t) for h in a.holdings}
        for a in await list_accounts(platform.db)
    }


async def test_a_tonne_retired_for_the_pilot_cannot_then_be_sold(platform):
    # given: tonnes 1-4 moved to the pilot and retired for its neutrality claim
    run = await issue_run(platform, tonnes=10)
    buyer = await make_buyer(platform)
    await transfer(platform.db, run.serial, "nanao-pilot", "op_admin", first=1, last=4)
    await retire(platform.db, nanao(1, 4), "Nan'ao county", "carbon-neutral pilot 2026", "op_admin")
    before = await snapshot(platform)
    # when / then: selling them, whole or in part, is refused
    with pytest.raises(RangeNotActive):
        await transfer(platform.db, nanao(1, 4), buyer, "op_admin")
    with pytest.raises(RangeNotActive):
        await transfer(platform.db, nanao(1, 4), buyer, "op_admin", first=2, last=2)
    with pytest.raises(RangeNotActive):  # nor can the split piece they came from move
        await transfer(platform.db, run.serial, buyer, "op_admin")
    assert await snapshot(platform) == before
    assert (await holdings(platform))["nanao-pilot"] == {"nanao": (0, 4)}
    assert buyer not in {a for a, h in (await holdings(platform)).items() if h}


async def test_a_tonne_sold_and_retired_by_a_buyer_cannot_then_count_for_the_pilot(platform):
    # given: tonnes 5-10 sold to a buyer, who retires them
    run = await issue_run(platform, tonnes=10)
    buyer = await make_buyer(platform)
    await transfer(platform.db, run.serial, buyer, "op_admin", first=5, last=10)
    await retire(platform.db, nanao(5, 10), "Acme", "offset 2026 flights", "op_admin")
    before = await snapshot(platform)
    # when / then: moving them to the pilot, or retiring them again for it, is refused
    with pytest.raises(RangeNotActive):
        await transfer(platform.db, nanao(5, 10), "nanao-pilot", "op_admin")
    with pytest.raises(RangeNotActive):
        await retire(platform.db, nanao(5, 10), "Nan'ao county", "carbon-neutral pilot 2026", "op_admin")
    assert await snapshot(platform) == before
    assert (await holdings(platform))[buyer] == {"nanao": (0, 6)}
    await assert_tiles(platform, run)


async def test_a_nanao_tonne_never_enters_the_shantou_book(platform):
    # given: a Nan'ao run, part of it with a buyer (who may hold any book)
    run = await issue_run(platform, tonnes=10)
    buyer = await make_buyer(platform)
    await transfer(platform.db, run.serial, buyer, "op_admin", first=1, last=2)
    before = await snapshot(platform)
    # when / then: neither the book's account nor the buyer can hand it to the Shantou book
    with pytest.raises(CrossBook):
        await transfer(platform.db, nanao(3, 10), "shantou", "op_admin")
    with pytest.raises(CrossBook):
        await transfer(platform.db, nanao(1, 2), "shantou", "op_admin", first=1, last=1)
    assert await snapshot(platform) == before


async def test_a_shantou_tonne_never_counts_for_the_nanao_pilot(platform):
    run = await issue_run(platform, book="shantou", tonnes=3)
    buyer = await make_buyer(platform)
    await transfer(platform.db, run.serial, buyer, "op_admin")
    before = await snapshot(platform)
    with pytest.raises(CrossBook):
        await transfer(platform.db, run.serial, "nanao-pilot", "op_admin")
    with pytest.raises(CrossBook):
        await transfer(platform.db, run.serial, "nanao", "op_admin")
    assert await snapshot(platform) == before
