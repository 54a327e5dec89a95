"""Transfers and retirements of pieces of serial ranges (docs/registry.md).

Each is one transaction that locks the piece's row first (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite has one writer already), so of two operations on one piece the second sees what the first
left: a split or retired piece is no longer active and cannot move (``range-not-active``).

Acting on part of a piece splits it: its row becomes ``split`` (kept, as history) and new rows,
each naming it as ``parent``, hold the chosen tonnes and what lies before and after them. Acting on
a whole piece changes its row in place (its serial stays; the audit log keeps its earlier holders).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit
from backend.certification.books import ensure_books
from backend.certification.runs import RANGES
from backend.db import Database, Tx
from backend.errors import CrossBook, InvalidRequest, RangeNotActive, TonnesOutsideRange, UnknownRange
from backend.registry.accounts import account
from backend.registry.rules import check_text, range_of, split
from backend.registry.schemas import OperationRead, PieceRead
from points_engine.certification import serial as serial_of
from points_engine.errors import InvariantViolation


async def transfer(
    db: Database,
    serial: str,
    to_account: str,
    actor: str,
    first: int | None = None,
    last: int | None = None,
) -> OperationRead:
    """Move tonnes ``first``..``last`` (default: all) of an active piece to ``to_account``.

    Refused, in this order: ``unknown-range``, ``range-not-active``, ``tonnes-outside-range``,
    ``unknown-account``, ``cross-book`` (the account holds another book only), ``invalid-request``
    (the account holds the piece already)."""

    async def use_case(tx: Tx) -> OperationRead:
        await ensure_books(tx.conn, tx.started_at)
        piece = await _lock_active(tx.conn, serial)
        lo, hi = _tonnes(piece, first, last)
        target = await account(tx.conn, to_account)
        if target.book is not None and target.book != piece.book:
            raise CrossBook(
                f"account {to_account!r} holds {target.book} credits only; {serial} is {piece.book}"
            )
        if target.account_id == piece.account_id:
            raise InvalidRequest(f"{serial} is held by {to_account!r} already")
        result = await _carve(tx, piece, lo, hi, {"account_id": target.account_id})
        details = {"from": piece.account_id, "to": target.account_id, **_moved(result)}
        await audit.record(tx, actor, "registry.transfer", f"range:{serial}", details)
        return result

    result: OperationRead = await db.run(use_case)
    return result


async def retire(
    db: Database,
    serial: str,
    beneficiary: str,
    purpose: str,
    actor: str,
    first: int | None = None,
    last: int | None = None,
) -> OperationRead:
    """Retire tonnes ``first``..``last`` (default: all) of an active piece for ``beneficiary`` and
    ``purpose``: final, a retired piece never moves again. Refused like ``transfer``, and with
    ``invalid-request`` for a beneficiary or purpose that is not 1-200 characters of text."""
    check_text("beneficiary", beneficiary)
    check_text("purpose", purpose)

    async def use_case(tx: Tx) -> OperationRead:
        await ensure_books(tx.conn, tx.started_at)
        piece = await _lock_active(tx.conn, serial)
        lo, hi = _tonnes(piece, first, last)
        changes = {"status": "retired", "beneficiary": beneficiary, "purpose": purpose}
        result = await _carve(tx, piece, lo, hi, {**changes, "retired_at": tx.started_at})
        details = {"holder": piece.account_id, "beneficiary": beneficiary, "purpose": purpose}
        await audit.record(tx, actor, "registry.retire", f"range:{serial}", {**details, **_moved(result)})
        return result

    result: OperationRead = await db.run(use_case)
    return result


async def _lock_active(conn: AsyncConnection, serial: str) -> Any:
    range_of(serial)  # a text that is no serial names no piece (and never reaches the database)
    piece = (await conn.execute(select(RANGES).where(RANGES.c.serial == serial).with_for_update())).first()
    if piece is None:
        raise UnknownRange(f"no serial range {serial!r}")
    if piece.status != "active":
        raise RangeNotActive(f"{serial} is {piece.status}: it cannot move or be retired")
    return piece


def _tonnes(piece: Any, first: int | None, last: int | None) -> tuple[int, int]:
    lo = piece.first if first is None else first
    hi = piece.last if last is None else last
    if not piece.first <= lo <= hi <= piece.last:
        raise TonnesOutsideRange(
            f"tonnes {lo}..{hi} are not inside {piece.serial} (tonnes {piece.first}..{piece.last})"
        )
    return lo, hi


async def _carve(tx: Tx, piece: Any, lo: int, hi: int, changes: dict[str, Any]) -> OperationRead:
    """Apply ``changes`` to tonnes ``lo``..``hi`` of ``piece``: in place for the whole piece, else by
    splitting it into pieces that tile it exactly."""
    mine = (RANGES.c.serial == piece.serial) & (RANGES.c.status == "active")
    if (lo, hi) == (piece.first, piece.last):
        await _change(tx.conn, mine, changes)
        [row] = await _rows(tx.conn, [piece.serial])
        changed = PieceRead.of(row)
        return OperationRead(serial=piece.serial, piece=changed, pieces=[changed])
    await _change(tx.conn, mine, {"status": "split"})
    rows = []
    for part in split(piece.first, piece.last, lo, hi):
        rows.append(
            {
                "serial": serial_of(piece.book, piece.vintage, piece.run_number, part.first, part.last),
                "run_id": piece.run_id,
                "book": piece.book,
                "vintage": piece.vintage,
                "run_number": piece.run_number,
                "first": part.first,
                "last": part.last,
                "account_id": piece.account_id,
                "status": "active",
                "parent": piece.serial,
                "beneficiary": None,
                "purpose": None,
                "retired_at": None,
                "created_at": tx.started_at,
                **(changes if part.chosen else {}),
            }
        )
    await tx.conn.execute(RANGES.insert(), rows)
    pieces = [PieceRead.of(r) for r in await _rows(tx.conn, [r["serial"] for r in rows])]
    [chosen] = [p for p in pieces if p.first == lo]
    return OperationRead(serial=piece.serial, piece=chosen, pieces=pieces)


async def _change(conn: AsyncConnection, where: Any, values: dict[str, Any]) -> None:
    # The row is locked and was active when read: anything else is a bug, never a second winner.
    if (await conn.execute(update(RANGES).where(where).values(**values))).rowcount != 1:
        raise InvariantViolation("a locked active piece changed under its lock")


async def _rows(conn: AsyncConnection, serials: list[str]) -> list[Any]:
    query = select(RANGES).where(RANGES.c.serial.in_(serials)).order_by(RANGES.c["first"])
    return list(await conn.execute(query))


def _moved(result: OperationRead) -> dict[str, Any]:
    return {
        "first": result.piece.first,
        "last": result.piece.last,
        "tonnes": result.piece.tonnes,
        "before": result.serial,
        "after": [p.serial for p in result.pieces],
    }
