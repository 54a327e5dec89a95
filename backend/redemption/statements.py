"""Daily merchant statements, reconciled three ways: the day's lines (from reservations) against
the journal's movements of the merchant's account that day, and the closing balance against the
live balance less what was booked after the day."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import ledger_store
from backend.db import Database
from backend.errors import InvalidStatementRange
from backend.merchants.offers import RESERVATIONS
from backend.redemption.schemas import StatementDay, StatementLineRead, StatementRead
from backend.settlement.repository import TXS
from points_engine.certification import SHANGHAI
from points_engine.ledger import Account
from points_engine.redemption import StatementLine, reconcile, statement
from points_engine.redemption.statements import LineKind

MAX_DAYS = 92
CSV_COLUMNS = ("day", "at", "kind", "reservation_id", "offer_id", "staff_id", "points", "tx_id")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)
    return start, start + timedelta(days=1)


async def daily(db: Database, merchant_id: str, day: date) -> StatementRead:
    async with db.read() as conn:
        return await _daily(conn, merchant_id, day)


async def days(db: Database, merchant_id: str, first: date, last: date) -> list[StatementDay]:
    """One summary per day from ``first`` to ``last`` (at most 92 days)."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise InvalidStatementRange(f"from {first} to {last}: at most {MAX_DAYS} days, from <= to")
    out = []
    async with db.read() as conn:
        for n in range((last - first).days + 1):
            s = await _daily(conn, merchant_id, first + timedelta(days=n))
            out.append(
                StatementDay(
                    day=s.day,
                    redemptions=sum(1 for line in s.lines if line.kind == "redemption"),
                    reversals=sum(1 for line in s.lines if line.kind == "reversal"),
                    redeemed=s.redeemed,
                    reversed=s.reversed,
                    net=s.net,
                    closing=s.closing,
                    reconciled=s.reconciled,
                )
            )
    return out


def csv_rows(s: StatementRead) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in s.lines:
        writer.writerow(
            (s.day.isoformat(), line.at.isoformat(), line.kind, line.reservation_id, line.offer_id,
             line.staff_id, line.points, line.tx_id)
        )  # fmt: skip
    yield buffer.getvalue()


async def _daily(conn: AsyncConnection, merchant_id: str, day: date) -> StatementRead:
    start, end = day_bounds(day)
    lines = [
        *await _lines(conn, merchant_id, start, end, "redemption"),
        *await _lines(conn, merchant_id, start, end, "reversal"),
    ]
    account = str(Account.merchant(merchant_id))
    opening = await _journal_net(conn, account, until=start)
    ledger_net = await _journal_net(conn, account, since=start, until=end)
    later = await _journal_net(conn, account, since=end)
    balance = (await ledger_store.balances(conn, [account]))[account]
    s = statement(merchant_id, day, opening, lines)
    check = reconcile(s, ledger_net, balance - later)
    return StatementRead(
        merchant_id=merchant_id, day=day, opening=s.opening, redeemed=s.redeemed, reversed=s.reversed,
        net=s.net, closing=s.closing, reconciled=check.reconciled, ledger_net=check.ledger_net,
        ledger_closing=check.ledger_closing, findings=list(check.findings),
        lines=[StatementLineRead.model_validate(line, from_attributes=True) for line in s.lines],
    )  # fmt: skip


async def _lines(
    conn: AsyncConnection, merchant_id: str, start: datetime, end: datetime, kind: LineKind
) -> list[StatementLine]:
    r = RESERVATIONS.c
    at, staff, tx, sign = (
        (r.redeemed_at, r.redeemed_by, r.resolved_tx, 1) if kind == "redemption" else
        (r.reversed_at, r.reversed_by, r.reverse_tx, -1)
    )  # fmt: skip
    rows = await conn.execute(
        select(at, r.reservation_id, r.offer_id, staff, r.points, tx).where(
            r.merchant_id == merchant_id, at >= start, at < end
        )
    )
    return [StatementLine(row[0], kind, row[1], row[2], row[3], sign * row[4], row[5]) for row in rows]


async def _journal_net(
    conn: AsyncConnection, account: str, since: datetime | None = None, until: datetime | None = None
) -> int:
    """Points into ``account`` less points out of it, booked in [since, until)."""
    total = 0
    for side, sign in ((TXS.c.credit, 1), (TXS.c.debit, -1)):
        query = select(func.coalesce(func.sum(TXS.c.amount), 0)).where(
            side == account, TXS.c.kind != "settle"
        )
        if since is not None:
            query = query.where(TXS.c.booked_at >= since)
        if until is not None:
            query = query.where(TXS.c.booked_at < until)
        total += sign * int((await conn.execute(query)).scalar_one())
    return total
