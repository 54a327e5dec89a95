"""The citizen's personal data as one JSON document (PIPL art. 45: access and portability).

Streamed as it is read: the long sections (outcomes, transactions, credits, reservations) go out a
page at a time, so memory stays flat however long the citizen's history. On PostgreSQL the whole
document is read from one REPEATABLE READ snapshot, so balances and transactions agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Row, Select, Table, and_, bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.runs import RANGES, RUNS
from backend.citizens import keyset
from backend.citizens.certified import OUTCOMES, certified
from backend.citizens.credits import LIVE_RANGES
from backend.db import Database
from backend.errors import NotFound
from backend.models import AcceptedAction, Binding, Citizen, LedgerTransaction, Reservation
from backend.models.settlement import NOT_SETTLE
from backend.privacy import balances as points
from backend.reports.downloads import Download
from points_engine.certification import SHANGHAI
from points_engine.ledger import tx_id_for
from points_engine.settlement import event_key

SCHEMA = "tanhui.citizen-export/1"
MEDIA_TYPE = "application/json"
PAGE = 1000  # rows per query and per chunk sent

CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]
BINDINGS: Table = Binding.__table__  # type: ignore[assignment]
ACTIONS: Table = AcceptedAction.__table__  # type: ignore[assignment]
TXS: Table = LedgerTransaction.__table__  # type: ignore[assignment]
RESERVATIONS: Table = Reservation.__table__  # type: ignore[assignment]

OUTCOME_COLUMNS = (
    "partner_id", "event_id", "type", "occurred_at", "status", "reduction_g", "points", "reasons",
    "flagged", "methodology", "book", "settled_at",
)  # fmt: skip
ACTION_COLUMNS = ("user", "region", "data", "received_at")
TX_COLUMNS = ("tx_id", "kind", "cause", "debit", "credit", "amount", "booked_at")
TX_SELECT = tuple(TXS.c[c] for c in TX_COLUMNS)
# The code's keyed hash is a secret of the redemption, and who redeemed is the staff's data.
RESERVATION_COLUMNS = (
    "reservation_id", "offer_id", "merchant_id", "points", "book", "status", "reserve_tx",
    "reserved_at", "expires_at", "resolved_tx", "redeemed_at", "voided_at", "reverse_tx", "reversed_at",
)  # fmt: skip

Chunks = AsyncIterator[list[dict[str, Any]]]


async def export(db: Database, citizen_id: str, *, now: datetime | None = None) -> Download:
    """The citizen's document, ready to stream; NotFound (before any byte) for an unknown citizen."""
    async with db.read() as conn:
        known = await conn.execute(select(CITIZENS.c.citizen_id).where(CITIZENS.c.citizen_id == citizen_id))
        if known.first() is None:
            raise NotFound(f"no citizen {citizen_id!r}")
    at = now or datetime.now(UTC)
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    return Download(f"tanhui-{citizen_id}-{day}.json", MEDIA_TYPE, _document(db, citizen_id, at))


async def _document(db: Database, citizen_id: str, now: datetime) -> AsyncIterator[bytes]:
    async with db.read() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        head = {
            "schema": SCHEMA,
            "generated_at": now,
            "citizen": await _citizen(conn, citizen_id),
            "bindings": await _bindings(conn, citizen_id),
            "balances": await points.balances(conn, citizen_id),
        }
        yield _json(head)[:-1]  # the object stays open for the streamed sections
        run_ids: set[str] = set()
        sections: tuple[tuple[str, Callable[[], Chunks]], ...] = (
            ("outcomes", lambda: _outcomes(conn, citizen_id)),
            ("unsettled_actions", lambda: _unsettled(conn, citizen_id)),
            ("transactions", lambda: _transactions(conn, citizen_id)),
            ("credits", lambda: _credits(conn, citizen_id, run_ids)),
            ("runs", lambda: _runs(conn, run_ids)),
            ("reservations", lambda: _reservations(conn, citizen_id)),
        )
        for name, chunks in sections:
            yield b',"' + name.encode() + b'":['
            separator = b""
            async for chunk in chunks():
                if chunk:
                    yield separator + b",".join(map(_json, chunk))
                    separator = b","
            yield b"]"
        yield b"}"


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


async def _citizen(conn: AsyncConnection, citizen_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(CITIZENS.c.created_at).where(CITIZENS.c.citizen_id == citizen_id))).one()
    return {"citizen_id": citizen_id, "created_at": row.created_at}


async def _bindings(conn: AsyncConnection, citizen_id: str) -> list[dict[str, Any]]:
    """Each of the partners' user ids bound to the citizen, with the consent it carries."""
    b = BINDINGS.c
    rows = await conn.execute(
        select(b.partner_id, b.user, b.created_at, b.consent_withdrawn_at)
        .where(b.citizen_id == citizen_id)
        .order_by(b.partner_id, b.user)
    )
    return [
        {
            "partner_id": r.partner_id,
            "user": r.user,
            "bound_at": r.created_at,
            "consent": "given" if r.consent_withdrawn_at is None else "withdrawn",
            "consent_withdrawn_at": r.consent_withdrawn_at,
        }
        for r in rows
    ]


async def _outcome_pages(
    conn: AsyncConnection, citizen_id: str, query: Select[Any]
) -> AsyncIterator[list[Row[Any]]]:
    """``query`` (over outcomes) for the citizen's outcomes, in non-empty keyset pages, newest first."""
    o = OUTCOMES.c
    resume = None
    while True:
        page = query.where(o.citizen_id == citizen_id).order_by(*keyset.order(OUTCOMES)).limit(PAGE)
        if resume is not None:
            page = page.where(resume)
        rows = (await conn.execute(page)).all()
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = rows[-1]
        after = keyset.after(OUTCOMES, keyset.encode(last.occurred_at, last.partner_id, last.event_id))
        # The bound is an index range; the keyset's OR alone is only a filter, and PostgreSQL would
        # rescan the citizen's newer rows for every page: quadratic in a long history (measured).
        resume = and_(o.occurred_at <= last.occurred_at, after)


async def _outcomes(conn: AsyncConnection, citizen_id: str) -> Chunks:
    """Every settled action: the outcome, and what the partner reported (``action``)."""
    o = OUTCOMES.c
    async for rows in _outcome_pages(conn, citizen_id, select(*(o[c] for c in OUTCOME_COLUMNS))):
        reported = await _reported(conn, [(r.partner_id, r.event_id) for r in rows])
        yield [_outcome(tuple(r), reported.get((r.partner_id, r.event_id))) for r in rows]


async def _reported(
    conn: AsyncConnection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The accepted actions behind a page of outcomes, by primary key, one partner at a time (one
    index scan each): joined in the page query, PostgreSQL hash-joins the whole actions table for
    every page; a (partner_id, event_id) IN list is a thousand OR'd probes (docs/privacy.md)."""
    a = ACTIONS.c
    by_partner: dict[str, list[str]] = {}
    for partner_id, event_id in keys:
        by_partner.setdefault(partner_id, []).append(event_id)
    query = select(a.event_id, *(a[c] for c in ACTION_COLUMNS)).where(
        a.partner_id == bindparam("p"), a.event_id.in_(bindparam("e", expanding=True))
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for partner_id, event_ids in by_partner.items():
        for row in await conn.execute(query, {"p": partner_id, "e": event_ids}):
            found[(partner_id, row[0])] = dict(zip(ACTION_COLUMNS, row[1:], strict=True))
    return found


def _outcome(row: tuple[Any, ...], action: dict[str, Any] | None) -> dict[str, Any]:
    # Positional, not by name: a Row's attribute lookup costs more than building the whole dict.
    item = dict(zip(OUTCOME_COLUMNS, row, strict=True))
    item["reasons"] = item["reasons"].split()
    item["action"] = action
    return item


async def _unsettled(conn: AsyncConnection, citizen_id: str) -> Chunks:
    """Accepted actions without an outcome yet (settlement takes seconds; normally none)."""
    a, o = ACTIONS.c, OUTCOMES.c
    settled = select(o.event_id).where(o.partner_id == a.partner_id, o.event_id == a.event_id).exists()
    columns = ("partner_id", "event_id", "type", "occurred_at", *ACTION_COLUMNS)
    query = select(*(a[c] for c in columns)).where(a.citizen_id == citizen_id, ~settled)
    async for rows in _streamed(conn, query.order_by(a.received_at, a.partner_id, a.event_id)):
        yield [dict(zip(columns, row, strict=True)) for row in rows]


async def _transactions(conn: AsyncConnection, citizen_id: str) -> Chunks:
    """Every ledger transaction on the citizen's accounts: first the settles, in the order of the
    outcomes; then all others by booking time."""
    o = OUTCOMES.c
    with_points = select(o.partner_id, o.event_id, o.occurred_at).where(o.points > 0)
    async for rows in _outcome_pages(conn, citizen_id, with_points):
        ids = [tx_id_for("settle", event_key(r.partner_id, r.event_id)) for r in rows]
        found = await conn.execute(select(*TX_SELECT).where(TXS.c.tx_id.in_(ids)))
        by_id = {r[0]: r for r in found}
        yield [_tx(by_id[i]) for i in ids if i in by_id]
    accounts = list(points.accounts_of(citizen_id))
    t = TXS.c
    # The literal ``kind <> 'settle'`` matches the partial indexes on (credit|debit, booked_at).
    to_citizen = select(*TX_SELECT).where(t.credit.in_(accounts), NOT_SETTLE)
    from_citizen_only = select(*TX_SELECT).where(t.debit.in_(accounts), t.credit.not_in(accounts), NOT_SETTLE)
    moves = union_all(to_citizen, from_citizen_only).subquery()
    async for rows in _streamed(conn, select(moves).order_by(moves.c.booked_at, moves.c.tx_id)):
        yield [_tx(r) for r in rows]


def _tx(row: Row[Any]) -> dict[str, Any]:
    return dict(zip(TX_COLUMNS, row, strict=True))


async def _credits(conn: AsyncConnection, citizen_id: str, run_ids: set[str]) -> Chunks:
    """Each certified action and the run that covers it (noted in ``run_ids`` for the next section)."""
    covered = await certified(conn, citizen_id)
    async for rows in _streamed(conn, select(covered).order_by(covered.c.partner_id, covered.c.event_id)):
        run_ids.update(r.run_id for r in rows)
        yield [{"partner_id": r.partner_id, "event_id": r.event_id, "run_id": r.run_id} for r in rows]


async def _runs(conn: AsyncConnection, run_ids: set[str]) -> Chunks:
    """The runs covering the citizen's actions: their roots (to check proofs) and live ranges."""
    if not run_ids:
        return
    columns = ("run_id", "book", "period", "tree_size", "root", "issued_at")
    query = select(*(RUNS.c[c] for c in columns)).where(RUNS.c.run_id.in_(run_ids)).order_by(RUNS.c.run_id)
    runs = [dict(zip(columns, row, strict=True)) for row in await conn.execute(query)]
    ranges = await conn.execute(
        select(RANGES.c.run_id, RANGES.c.serial, RANGES.c.first, RANGES.c.last, RANGES.c.status)
        .where(RANGES.c.run_id.in_(run_ids), RANGES.c.status.in_(LIVE_RANGES))
        .order_by(RANGES.c.first, RANGES.c.serial)
    )
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in ranges:
        piece = {"serial": r.serial, "first": r.first, "last": r.last, "status": r.status}
        by_run.setdefault(r.run_id, []).append(piece)
    yield [{**run, "ranges": by_run.get(run["run_id"], [])} for run in runs]


async def _reservations(conn: AsyncConnection, citizen_id: str) -> Chunks:
    r = RESERVATIONS.c
    query = select(*(r[c] for c in RESERVATION_COLUMNS)).where(r.citizen_id == citizen_id)
    async for rows in _streamed(conn, query.order_by(r.reserved_at, r.reservation_id)):
        yield [dict(zip(RESERVATION_COLUMNS, row, strict=True)) for row in rows]


async def _streamed(conn: AsyncConnection, query: Select[Any]) -> AsyncIterator[list[Row[Any]]]:
    """The rows of ``query`` in lists of PAGE, from a server-side cursor (read to its end before the
    next query on ``conn``)."""
    result = await conn.stream(query.execution_options(yield_per=PAGE))
    async for rows in result.partitions(PAGE):
        yield list(rows)
