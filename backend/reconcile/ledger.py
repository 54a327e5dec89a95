"""Check ``ledger``: the journal, the balances and the outcomes tell one story.

- every transaction is well-formed: a known kind, a positive amount, a move its kind allows,
  and the ``tx_id`` its kind and cause derive;
- every account's balance (the sum of its ``ledger_balances`` shards) is what the journal credited
  minus what it debited; all balances sum to zero; no account but issuance and campaign is negative;
- every outcome with points has its ``settle`` transaction (``settle_tx``: same id, accounts and
  amount), and every ``settle`` transaction has an outcome with points;
- every complete run moved each citizen's points of it with one ``certify-run`` transaction, and
  the run's ``certify-run`` amounts sum to its points;
- each citizen's pending balance is the points settled for them (and pending bonuses) minus what
  was certified or voided.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.members import points_by_citizen
from backend.certification.runs import RUNS, scope_of
from backend.reconcile.findings import Sink
from backend.settlement.repository import BALANCES, OUTCOMES, TXS
from points_engine.errors import EngineError
from points_engine.ledger import SHAPES, Account, Transaction, certify_run_tx, settle_tx, tx_id_for

BATCH = 1000
PROGRESS_EVERY = 50_000


async def check(conn: AsyncConnection, lookup: AsyncConnection, sink: Sink) -> dict[str, Any]:
    """``conn`` streams; ``lookup`` (the same snapshot) finds the rows a batch refers to."""
    runs = {r.run_id: r for r in await conn.execute(select(RUNS))}
    await _transactions(conn, lookup, sink, set(runs))
    await _settles(conn, lookup, sink)
    await _balances(conn, sink)
    incomplete = [rid for rid, run in sorted(runs.items()) if run.status != "complete"]
    for rid in sorted(set(runs) - set(incomplete)):
        await _certified(conn, lookup, sink, runs[rid])
    await _pending(conn, sink)
    return {"runs_not_complete": incomplete}


async def _transactions(
    conn: AsyncConnection, lookup: AsyncConnection, sink: Sink, run_ids: set[str]
) -> None:
    """Each journal row on its own, and each settle's outcome (looked up a batch at a time)."""
    total = (await conn.execute(select(func.count()).select_from(TXS))).scalar_one()
    settles: list[tuple[str, str, str]] = []
    result = await conn.stream(select(TXS).order_by(TXS.c.tx_id).execution_options(yield_per=10_000))
    async for tx in result:
        sink.examined()
        _check_row(tx, sink, run_ids)
        partner, _, event = tx.cause.partition("/")
        if tx.kind == "settle":
            settles.append((tx.tx_id, partner, event))
            if len(settles) == BATCH:
                await _settled_outcomes(lookup, sink, settles)
                settles = []
        if sink.checked % PROGRESS_EVERY == 0:
            sink.progress(sink.checked, total)
    await _settled_outcomes(lookup, sink, settles)


def _check_row(tx: Any, sink: Sink, run_ids: set[str]) -> None:
    subject = f"tx {tx.tx_id}"
    if tx.kind not in SHAPES:
        sink.report(subject, "tx-kind", f"unknown kind {tx.kind!r}")
        return
    if tx.tx_id != tx_id_for(tx.kind, tx.cause):
        sink.report(
            subject, "tx-id", f"not the id of {tx.kind} {tx.cause!r} ({tx_id_for(tx.kind, tx.cause)})"
        )
    if not tx.amount > 0:
        sink.report(subject, "tx-amount", f"amount {tx.amount} is not positive")
    try:
        move = (Account.parse(tx.debit).kind, Account.parse(tx.credit).kind)
    except EngineError as error:
        sink.report(subject, "tx-shape", error.detail)
    else:
        if move not in SHAPES[tx.kind]:
            sink.report(subject, "tx-shape", f"{tx.kind} may not move {tx.debit} → {tx.credit}")
    if tx.kind == "certify-run" and tx.cause.rpartition("/")[0] not in run_ids:
        sink.report(subject, "certify-run-unknown-run", f"cause {tx.cause!r} names no certification run")


async def _settled_outcomes(
    conn: AsyncConnection, sink: Sink, settles: Sequence[tuple[str, str, str]]
) -> None:
    if not settles:
        return
    o = OUTCOMES.c
    keys = [(p, e) for _, p, e in settles]
    points = {
        (r.partner_id, r.event_id): r.points
        for r in await conn.execute(
            select(o.partner_id, o.event_id, o.points).where(tuple_(o.partner_id, o.event_id).in_(keys))
        )
    }
    for tx_id, partner, event in settles:
        earned = points.get((partner, event))
        if earned is None or earned <= 0:
            why = "no outcome" if earned is None else f"an outcome of {earned} points"
            sink.report(
                f"tx {tx_id}", "settle-without-outcome", f"settles {partner}/{event}, which has {why}"
            )


async def _settles(conn: AsyncConnection, lookup: AsyncConnection, sink: Sink) -> None:
    """Each outcome with points against the settle transaction it must have."""
    o = OUTCOMES.c
    query = (
        select(o.partner_id, o.event_id, o.citizen_id, o.book, o.points)
        .where(o.points > 0)
        .order_by(o.partner_id, o.event_id)
        .execution_options(yield_per=10_000)
    )
    batch: list[tuple[Any, Transaction | None]] = []
    result = await conn.stream(query)
    async for row in result:
        try:
            expected = settle_tx(row.book, row.citizen_id, f"{row.partner_id}/{row.event_id}", row.points)
        except EngineError as error:
            sink.report(f"outcome {row.partner_id}/{row.event_id}", "settle-invalid", error.detail)
            continue
        batch.append((row, expected))
        if len(batch) == BATCH:
            await _compare_settles(lookup, sink, batch)
            batch = []
    await _compare_settles(lookup, sink, batch)


async def _compare_settles(conn: AsyncConnection, sink: Sink, batch: list[tuple[Any, Any]]) -> None:
    if not batch:
        return
    stored = await _by_id(conn, [tx.tx_id for _, tx in batch])
    for row, expected in batch:
        _compare(sink, f"outcome {row.partner_id}/{row.event_id}", expected, stored.get(expected.tx_id))


def _compare(sink: Sink, owner: str, expected: Transaction, row: Any) -> None:
    if row is None:
        sink.report(owner, f"{expected.kind}-missing", f"no {expected.kind} transaction {expected.tx_id}")
        return
    found = (row.kind, row.cause, row.debit, row.credit, row.amount)
    wanted = (expected.kind, expected.cause, str(expected.debit.account), str(expected.credit.account))
    if found != (*wanted, expected.amount):
        sink.report(
            f"tx {row.tx_id}",
            f"{expected.kind}-mismatch",
            f"{row.amount} from {row.debit} to {row.credit}; {owner} makes it {expected.amount} "
            f"from {wanted[2]} to {wanted[3]}",
        )


async def _by_id(conn: AsyncConnection, tx_ids: list[str]) -> dict[str, Any]:
    return {r.tx_id: r for r in await conn.execute(select(TXS).where(TXS.c.tx_id.in_(tx_ids)))}


async def _balances(conn: AsyncConnection, sink: Sink) -> None:
    """Per account: the sum of its shards against the journal; the sum of all; the sign."""
    t = TXS.c
    parts = union_all(
        select(BALANCES.c.account, BALANCES.c.balance.label("stored"), literal(0).label("journal")),
        select(t.credit, literal(0), t.amount),
        select(t.debit, literal(0), -t.amount),
    ).subquery()
    query = (
        select(parts.c.account, func.sum(parts.c.stored), func.sum(parts.c.journal))
        .group_by(parts.c.account)
        .order_by(parts.c.account)
        .execution_options(yield_per=10_000)
    )
    everything = 0
    result = await conn.stream(query)
    async for account, stored, journal in result:
        stored, journal = int(stored), int(journal)
        everything += stored
        subject = f"account {account}"
        if stored != journal:
            sink.report(subject, "balance", f"balance {stored}, but its journal credits − debits = {journal}")
        try:
            guarded = not Account.parse(account).may_go_negative
        except EngineError as error:
            sink.report(subject, "account-malformed", error.detail)
            continue
        if guarded and stored < 0:
            sink.report(subject, "negative", f"balance {stored}: this kind of account may not go below zero")
    if everything != 0:
        sink.report("ledger_balances", "sum", f"all balances sum to {everything}, not 0")


async def _certified(conn: AsyncConnection, lookup: AsyncConnection, sink: Sink, run: Any) -> None:
    """A complete run: one certify-run per citizen of it with points, and their sum is its points."""
    batch: list[tuple[Any, Transaction]] = []
    async for citizen, points in points_by_citizen(conn, scope_of(run)):
        batch.append((citizen, certify_run_tx(run.run_id, citizen, points)))
        if len(batch) == BATCH:
            await _compare_moves(lookup, sink, run.run_id, batch)
            batch = []
    await _compare_moves(lookup, sink, run.run_id, batch)
    prefix = f"{run.run_id}/"
    moved = (
        await conn.execute(
            select(func.coalesce(func.sum(TXS.c.amount), 0)).where(
                TXS.c.kind == "certify-run", func.substr(TXS.c.cause, 1, len(prefix)) == prefix
            )
        )
    ).scalar_one()
    if int(moved) != run.points:
        sink.report(
            f"run {run.run_id}", "certify-run-total", f"points {run.points}, its certify-run moved {moved}"
        )


async def _compare_moves(
    conn: AsyncConnection, sink: Sink, rid: str, batch: list[tuple[Any, Transaction]]
) -> None:
    if not batch:
        return
    stored = await _by_id(conn, [tx.tx_id for _, tx in batch])
    for citizen, expected in batch:
        _compare(sink, f"run {rid} citizen {citizen}", expected, stored.get(expected.tx_id))


_PENDING = text(
    """
    SELECT account, sum(stored), sum(settled), sum(bonus), sum(moved) FROM (
        SELECT account, balance AS stored, 0 AS settled, 0 AS bonus, 0 AS moved
          FROM ledger_balances WHERE account LIKE :like
        UNION ALL
        SELECT :citizen || citizen_id || :pending, 0, points, 0, 0 FROM outcomes WHERE points > 0
        UNION ALL
        SELECT credit, 0, 0, amount, 0 FROM ledger_transactions
         WHERE kind = 'bonus' AND credit LIKE :like
        UNION ALL
        SELECT debit, 0, 0, 0, amount FROM ledger_transactions WHERE debit LIKE :like
    ) x
    GROUP BY account
    HAVING sum(stored) <> sum(settled) + sum(bonus) - sum(moved)
    ORDER BY account
    """
)


async def _pending(conn: AsyncConnection, sink: Sink) -> None:
    """Pending = points settled (+ pending bonuses) − points certified or voided, per citizen."""
    params = {"like": "citizen:%:pending", "citizen": "citizen:", "pending": ":pending"}
    result = await conn.stream(_PENDING.execution_options(yield_per=10_000), params)
    async for account, stored, settled, bonus, moved in result:
        sink.report(
            f"account {account}",
            "pending",
            f"pending balance {stored}, but settled {settled} + bonus {bonus} − certified or voided {moved} "
            f"= {int(settled) + int(bonus) - int(moved)}",
        )
