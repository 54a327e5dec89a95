"""Check ``redemptions``: reservations, offers' stock and the ledger tell one story.

- every reservation's hold is in the journal: the ``spend-reserve`` its id derives, from the
  citizen's available to their held points, for its points; its follow-up too, by status:
  ``spend-post`` to its merchant (redeemed, reversed), ``spend-void`` (cancelled, expired), and
  the ``reverse`` of the post (reversed); a live reservation has none;
- each citizen's held balance is the points of their live reservations;
- each merchant's balance is the points of its redemptions that stand (redeemed, not reversed);
- each offer's stock: total = left + units held + units redeemed; never below zero.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.merchants.offers import OFFERS, RESERVATIONS
from backend.reconcile.findings import Sink
from backend.settlement.repository import BALANCES, TXS
from points_engine.ledger import (
    Account,
    Transaction,
    reverse_tx,
    spend_post_tx,
    spend_reserve_tx,
    spend_void_tx,
)

BATCH = 500
FOLLOW_UPS = {
    "redeemed": "post",
    "reversed": "post",
    "cancelled": "void",
    "expired": "void",
    "reserved": None,
}


async def check(conn: AsyncConnection, lookup: AsyncConnection, sink: Sink) -> dict[str, Any]:
    held: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    units: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    batch: list[Any] = []
    count = 0
    result = await conn.stream(
        select(RESERVATIONS).order_by(RESERVATIONS.c.reservation_id).execution_options(yield_per=5_000)
    )
    async for row in result:
        sink.examined()
        count += 1
        units[row.offer_id][row.status] += 1
        if row.status == "reserved":
            held[row.citizen_id] += row.points
        if row.status == "redeemed":
            paid[row.merchant_id] += row.points
        batch.append(row)
        if len(batch) == BATCH:
            await _journal(lookup, sink, batch)
            batch = []
    await _journal(lookup, sink, batch)
    await _balances(conn, sink, "citizen-held", held)
    await _balances(conn, sink, "merchant", paid)
    await _stock(conn, sink, units)
    return {"reservations": count}


def _expected(row: Any) -> list[tuple[str, Transaction, str | None]]:
    """The journal rows the reservation's status implies, with the column naming each."""
    hold = spend_reserve_tx(row.citizen_id, row.reservation_id, row.points)
    txs: list[tuple[str, Transaction, str | None]] = [("reserve_tx", hold, row.reserve_tx)]
    follow = FOLLOW_UPS.get(row.status)
    if follow == "post":
        post = spend_post_tx(hold, row.merchant_id)
        txs.append(("resolved_tx", post, row.resolved_tx))
        if row.status == "reversed":
            txs.append(("reverse_tx", reverse_tx(post), row.reverse_tx))
    elif follow == "void":
        txs.append(("resolved_tx", spend_void_tx(hold), row.resolved_tx))
    return txs


async def _journal(lookup: AsyncConnection, sink: Sink, rows: list[Any]) -> None:
    if not rows:
        return
    wanted = {id(row): _expected(row) for row in rows if row.status in FOLLOW_UPS}
    ids = {tx.tx_id for txs in wanted.values() for _, tx, _ in txs}
    found = {
        r.tx_id: r
        for r in await lookup.execute(
            select(TXS.c.tx_id, TXS.c.kind, TXS.c.debit, TXS.c.credit, TXS.c.amount).where(
                TXS.c.tx_id.in_(ids)
            )
        )
    }
    for row in rows:
        subject = f"reservation {row.reservation_id}"
        if row.status not in FOLLOW_UPS:
            sink.report(subject, "reservation-status", f"unknown status {row.status!r}")
            continue
        if row.status == "reserved" and row.resolved_tx is not None:
            sink.report(
                subject, "reservation-resolved", f"live, yet names {row.resolved_tx} as its follow-up"
            )
        for column, tx, named in wanted[id(row)]:
            journal = found.get(tx.tx_id)
            if named != tx.tx_id:
                sink.report(subject, "reservation-tx", f"{column} is {named}; its {tx.kind} is {tx.tx_id}")
            if journal is None:
                sink.report(subject, "reservation-tx-missing", f"no {tx.kind} {tx.tx_id} in the journal")
            elif (journal.kind, journal.debit, journal.credit, journal.amount) != (
                tx.kind, str(tx.debit.account), str(tx.credit.account), tx.amount,
            ):  # fmt: skip
                sink.report(
                    subject,
                    "reservation-tx-mismatch",
                    f"{tx.tx_id} is {journal.kind} {journal.amount} {journal.debit} → {journal.credit}; "
                    f"expected {tx.kind} {tx.amount} {tx.debit.account} → {tx.credit.account}",
                )


async def _balances(conn: AsyncConnection, sink: Sink, kind: str, expected: dict[str, int]) -> None:
    """Every account of ``kind`` (citizens' held, merchants) against what the reservations imply."""
    pattern = "citizen:%:held" if kind == "citizen-held" else "merchant:%"
    rows = await conn.execute(
        select(BALANCES.c.account, func.sum(BALANCES.c.balance))
        .where(BALANCES.c.account.like(pattern))
        .group_by(BALANCES.c.account)
    )
    actual = {Account.parse(a).owner: int(b) for a, b in rows}
    for owner in sorted(set(actual) | set(expected)):
        if actual.get(owner, 0) != expected.get(owner, 0):
            account = Account(kind, owner)  # type: ignore[arg-type]
            what = "live reservations" if kind == "citizen-held" else "standing redemptions"
            sink.report(
                f"account {account}",
                "held-balance" if kind == "citizen-held" else "merchant-balance",
                f"balance {actual.get(owner, 0)}; its {what} hold {expected.get(owner, 0)} points",
            )


async def _stock(conn: AsyncConnection, sink: Sink, units: dict[str, dict[str, int]]) -> None:
    for offer in await conn.execute(select(OFFERS.c.offer_id, OFFERS.c.stock_total, OFFERS.c.stock_left)):
        sink.examined()
        taken = units.get(offer.offer_id, {})
        held, redeemed = taken.get("reserved", 0), taken.get("redeemed", 0)
        if offer.stock_left < 0 or offer.stock_total != offer.stock_left + held + redeemed:
            sink.report(
                f"offer {offer.offer_id}",
                "stock",
                f"total {offer.stock_total}; {offer.stock_left} left + {held} held + {redeemed} redeemed",
            )
