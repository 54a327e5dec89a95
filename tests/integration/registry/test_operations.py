"""Transfers and retirements in the real database: whole pieces change in place, parts split the
piece, the audit log records each, and every refusal leaves the registry exactly as it was."""

from __future__ import annotations

import pytest

from backend import audit
from backend.errors import (
    AppError,
    CrossBook,
    InvalidRequest,
    RangeNotActive,
    TonnesOutsideRange,
    UnknownAccount,
    UnknownRange,
)
from backend.registry import get_piece, retire, transfer
from points_engine.certification import serial
from tests.integration.registry.factories import assert_tiles, issue_run, make_buyer, snapshot


def nanao(first: int, last: int, run: int = 1) -> str:
    return serial("nanao", 2026, run, first, last)


class TestTransfer:
    async def test_a_whole_piece_changes_holder_and_keeps_its_serial(self, platform):
        run = await issue_run(platform, tonnes=10)
        buyer = await make_buyer(platform)

        result = await transfer(platform.db, run.serial, buyer, actor="op_admin")

        assert result.serial == run.serial == nanao(1, 10)
        assert [(p.serial, p.account_id, p.status) for p in result.pieces] == [(run.serial, buyer, "active")]
        assert result.piece.parent is None and result.piece.tonnes == 10
        assert [(p.first, p.last, p.account_id) for p in await assert_tiles(platform, run)] == [
            (1, 10, buyer)
        ]

    async def test_part_of_a_piece_splits_it_into_the_part_moved_and_what_lies_around_it(self, platform):
        run = await issue_run(platform, tonnes=10)
        buyer = await make_buyer(platform)

        result = await transfer(platform.db, run.serial, buyer, actor="op_admin", first=4, last=6)

        assert result.piece.serial == nanao(4, 6) and result.piece.account_id == buyer
        assert [(p.serial, p.account_id, p.parent) for p in result.pieces] == [
            (nanao(1, 3), "nanao", run.serial),
            (nanao(4, 6), buyer, run.serial),
            (nanao(7, 10), "nanao", run.serial),
        ]
        assert (await get_piece(platform.db, run.serial)).status == "split"
        await assert_tiles(platform, run)

    async def test_first_or_last_alone_runs_to_the_end_of_the_piece(self, platform):
        run = await issue_run(platform, tonnes=10)
        buyer = await make_buyer(platform)

        head = await transfer(platform.db, run.serial, buyer, actor="op_admin", last=2)
        tail = await transfer(platform.db, nanao(3, 10), "nanao-pilot", actor="op_admin", first=9)

        assert [p.serial for p in head.pieces] == [nanao(1, 2), nanao(3, 10)]
        assert [(p.serial, p.account_id) for p in tail.pieces] == [
            (nanao(3, 8), "nanao"),
            (nanao(9, 10), "nanao-pilot"),
        ]
        assert [(p.first, p.last) for p in await assert_tiles(platform, run)] == [(1, 2), (3, 8), (9, 10)]

    async def test_the_audit_log_names_the_serials_before_and_after(self, platform):
        run = await issue_run(platform, tonnes=10)
        buyer = await make_buyer(platform)

        await transfer(platform.db, run.serial, buyer, actor="op_admin", first=1, last=3)

        event = (await audit.page(platform.db, 0, 100))[-1].event
        assert (event.actor, event.action, event.subject) == (
            "op_admin",
            "registry.transfer",
            f"range:{run.serial}",
        )
        assert event.details == {
            "from": "nanao",
            "to": buyer,
            "first": 1,
            "last": 3,
            "tonnes": 3,
            "before": run.serial,
            "after": [nanao(1, 3), nanao(4, 10)],
        }
        assert (await audit.verify(platform.db)).ok


class TestRetire:
    async def test_a_whole_piece_is_retired_in_place_with_its_beneficiary_and_purpose(self, platform):
        run = await issue_run(platform, tonnes=5)

        result = await retire(platform.db, run.serial, "汕头大学", "2026 campus neutrality", actor="op_admin")

        piece = result.piece
        assert (piece.serial, piece.status, piece.account_id) == (run.serial, "retired", "nanao")
        assert (piece.beneficiary, piece.purpose) == ("汕头大学", "2026 campus neutrality")
        assert piece.retired_at is not None and piece.retired_at.utcoffset().total_seconds() == 0

    async def test_part_of_a_piece_is_retired_and_the_rest_stays_active_with_its_holder(self, platform):
        run = await issue_run(platform, tonnes=10)
        await transfer(platform.db, run.serial, "nanao-pilot", actor="op_admin")

        result = await retire(
            platform.db, run.serial, "Nan'ao county", "pilot 2026", actor="op_admin", first=3, last=3
        )

        assert [(p.serial, p.status, p.account_id) for p in result.pieces] == [
            (nanao(1, 2), "active", "nanao-pilot"),
            (nanao(3, 3), "retired", "nanao-pilot"),
            (nanao(4, 10), "active", "nanao-pilot"),
        ]
        event = (await audit.page(platform.db, 0, 100))[-1].event
        assert (event.action, event.details["holder"], event.details["after"]) == (
            "registry.retire",
            "nanao-pilot",
            [nanao(1, 2), nanao(3, 3), nanao(4, 10)],
        )
        await assert_tiles(platform, run)

    async def test_a_retired_piece_can_never_move_or_be_retired_again(self, platform):
        run = await issue_run(platform, tonnes=5)
        buyer = await make_buyer(platform)
        await retire(platform.db, run.serial, "someone", "something", actor="op_admin")
        before = await snapshot(platform)

        with pytest.raises(RangeNotActive):
            await transfer(platform.db, run.serial, buyer, actor="op_admin")
        with pytest.raises(RangeNotActive):
            await retire(platform.db, run.serial, "someone else", "again", actor="op_admin", first=1, last=1)
        assert await snapshot(platform) == before


async def _transfer_from_1(platform, **kw):
    return await transfer(
        platform.db, kw.pop("serial", nanao(1, 10)), kw.pop("to", "acme-corp"), "op_admin", **kw
    )


REFUSED = [
    ("an unknown serial", UnknownRange, {"serial": nanao(1, 11)}),
    ("a text that is no serial", UnknownRange, {"serial": "TH-NANAO-2026-1-1-10"}),
    ("a serial with U+0000", UnknownRange, {"serial": "TH-NANAO\x00"}),
    (
        "a serial of a book that does not exist",
        UnknownRange,
        {"serial": "TH-BEIJING-2026-000001-000000001-000000010"},
    ),
    ("a piece that was split", RangeNotActive, {"serial": nanao(1, 10, run=2)}),
    ("a retired piece", RangeNotActive, {"serial": nanao(1, 1, run=2)}),
    ("tonnes past its end", TonnesOutsideRange, {"first": 5, "last": 11}),
    ("tonnes before its start", TonnesOutsideRange, {"serial": nanao(2, 10, run=2), "first": 1, "last": 3}),
    ("first after last", TonnesOutsideRange, {"first": 6, "last": 5}),
    ("an unknown account", UnknownAccount, {"to": "nobody-here"}),
    ("an account id that cannot exist", UnknownAccount, {"to": "Nobody\x00"}),
    ("a nanao piece to the shantou book", CrossBook, {"to": "shantou"}),
    (
        "a shantou piece to the nanao pilot",
        CrossBook,
        {"serial": serial("shantou", 2026, 1, 1, 4), "to": "nanao-pilot"},
    ),
    ("a piece to its own holder", InvalidRequest, {"to": "nanao"}),
]


class TestRefusals:
    @pytest.mark.parametrize(("case", "error", "kw"), REFUSED, ids=[r[0] for r in REFUSED])
    async def test_a_refused_transfer_changes_nothing(self, platform, case, error: type[AppError], kw):
        # given: nanao run 1 (tonnes 1-10, active), nanao run 2 split (1 retired, 2-10 active), a shantou run
        await issue_run(platform, tonnes=10)
        second = await issue_run(platform, tonnes=10)
        await issue_run(platform, book="shantou", tonnes=4)
        await make_buyer(platform)
        await retire(platform.db, second.serial, "b", "p", actor="op_admin", first=1, last=1)
        before = await snapshot(platform)
        # when / then
        with pytest.raises(error):
            await _transfer_from_1(platform, **kw)
        assert await snapshot(platform) == before

    @pytest.mark.parametrize(
        ("beneficiary", "purpose"),
        [
            ("", "p"),
            ("b", ""),
            ("   ", "p"),
            ("a\x00b", "p"),
            ("b", "line\nbreak"),
            ("x" * 201, "p"),
            ("b", "\x85"),
        ],
    )
    async def test_a_retirement_without_a_proper_beneficiary_and_purpose_changes_nothing(
        self, platform, beneficiary, purpose
    ):
        run = await issue_run(platform, tonnes=3)
        before = await snapshot(platform)
        with pytest.raises(InvalidRequest):
            await retire(platform.db, run.serial, beneficiary, purpose, actor="op_admin")
        assert await snapshot(platform) == before
