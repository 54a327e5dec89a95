"""Public reads of the registry: runs with their roots and pieces, pieces with their history.

Lists are keyset pages on the primary key (``after`` = the last key already read), so a page costs
the same however far into the registry it is."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.runs import RANGES, RUNS, parse_book
from backend.db import Database
from backend.errors import InvalidRequest, UnknownRange, UnknownRun
from backend.registry.rules import ACCOUNT_ID, CURRENT, STATUSES, range_of
from backend.registry.schemas import PieceHistory, PiecePage, PieceRead, RunDetail, RunPage, RunRead
from points_engine.certification import Period

RUN_ID = re.compile(r"run_[a-z]+_[0-9]{4}-[0-9]{2}_[0-9]{6}")
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,48}")


async def list_runs(
    db: Database,
    *,
    book: str | None = None,
    period: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> RunPage:
    """Runs by run id (book, period, number), optionally of one book and one period."""
    query = select(RUNS).order_by(RUNS.c.run_id)
    if book is not None:
        query = query.where(RUNS.c.book == parse_book(book))
    if period is not None:
        query = query.where(RUNS.c.period == str(Period.parse(period)))
    if after is not None:
        query = query.where(RUNS.c.run_id > _cursor(after))
    async with db.read() as conn:
        runs = await _page(conn, query, limit)
        issued = await _issued(conn, [r.run_id for r in runs])
    items = [RunRead.of(r, issued.get(r.run_id)) for r in runs[:limit]]
    return RunPage(items=items, next_after=items[-1].run_id if len(runs) > limit else None)


async def get_run(db: Database, run_id: str) -> RunDetail:
    """A run, its root and size (what a proof is checked against) and its current pieces."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise UnknownRun(f"no certification run {run_id!r}")
    async with db.read() as conn:
        run = (await conn.execute(select(RUNS).where(RUNS.c.run_id == run_id))).first()
        if run is None:
            raise UnknownRun(f"no certification run {run_id!r}")
        issued = await _issued(conn, [run_id])
        query = select(RANGES).where(RANGES.c.run_id == run_id, RANGES.c.status.in_(CURRENT))
        pieces = [PieceRead.of(r) for r in await conn.execute(query.order_by(RANGES.c["first"]))]
    return RunDetail(
        **RunRead.of(run, issued.get(run_id)).model_dump(),
        active_t=sum(p.tonnes for p in pieces if p.status == "active"),
        retired_t=sum(p.tonnes for p in pieces if p.status == "retired"),
        pieces=pieces,
    )


async def list_pieces(
    db: Database,
    *,
    book: str | None = None,
    status: str | None = None,
    account: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> PiecePage:
    """Pieces by serial (book, vintage, run, first tonne); without ``status``, the current ones
    (active and retired), with ``status=split`` the history."""
    query = select(RANGES).order_by(RANGES.c.serial)
    if book is not None:
        query = query.where(RANGES.c.book == parse_book(book))
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    query = query.where(RANGES.c.status.in_((status,) if status else CURRENT))
    if account is not None:
        if not ACCOUNT_ID.fullmatch(account):
            raise InvalidRequest("account must be 3-40 characters of [a-z0-9-]")
        query = query.where(RANGES.c.account_id == account)
    if after is not None:
        query = query.where(RANGES.c.serial > _cursor(after))
    async with db.read() as conn:
        rows = await _page(conn, query, limit)
    items = [PieceRead.of(r) for r in rows[:limit]]
    return PiecePage(items=items, next_after=items[-1].serial if len(rows) > limit else None)


async def get_piece(db: Database, serial: str) -> PieceHistory:
    """A piece (current or split), the pieces it was split from, and the pieces it was split into."""
    range_of(serial)
    async with db.read() as conn:
        piece = (await conn.execute(select(RANGES).where(RANGES.c.serial == serial))).first()
        if piece is None:
            raise UnknownRange(f"no serial range {serial!r}")
        # Pieces of a run nest or are disjoint, so the rows that contain this one are its ancestors;
        # the narrowest is its parent.
        ancestors = select(RANGES).where(
            RANGES.c.run_id == piece.run_id,
            RANGES.c["first"] <= piece.first,
            RANGES.c["last"] >= piece.last,
            RANGES.c.serial != serial,
        )
        width = RANGES.c["last"] - RANGES.c["first"]
        parents = [PieceRead.of(r) for r in await conn.execute(ancestors.order_by(width))]
        children_query = select(RANGES).where(RANGES.c.run_id == piece.run_id, RANGES.c.parent == serial)
        children = [PieceRead.of(r) for r in await conn.execute(children_query.order_by(RANGES.c["first"]))]
    return PieceHistory(**PieceRead.of(piece).model_dump(), ancestors=parents, children=children)


async def _page(conn: AsyncConnection, query: Select[Any], limit: int) -> list[Any]:
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be 1 to 1000")
    return list(await conn.execute(query.limit(limit + 1)))


async def _issued(conn: AsyncConnection, run_ids: list[str]) -> dict[str, str]:
    """The range each run issued: its piece without a parent."""
    query = select(RANGES.c.run_id, RANGES.c.serial).where(
        RANGES.c.run_id.in_(run_ids), RANGES.c.parent.is_(None)
    )
    return {rid: s for rid, s in await conn.execute(query)}


def _cursor(after: str) -> str:
    if not CURSOR.fullmatch(after):
        raise InvalidRequest("after must be a key from the previous page")
    return after
