"""Reserve and redeem on PostgreSQL in two round trips each, through raw psycopg.

The usual case only: an unusual one (an Idempotency-Key seen before, the citizen's expired
reservations still to void, a code expired or used) returns ``None`` and the caller takes the
general path (``reservations.reserve``, ``redeem.redeem``), which handles every case on both
databases. The decisions are the engine's (``check_reservable``, the ledger builders); the
statements only lock, read and write what the general path does, under the same lock order
(docs/redemption.md): the citizen's available row, then the reservation, then the balances in
account order, and the offer's row last.

Why not one statement: after waiting for the citizen's lock, PostgreSQL's READ COMMITTED gives
the next statement a fresh snapshot, which the per-citizen limit and the balance must be read
in; a single statement would read them in the snapshot taken before the wait. The lock and the
read still travel together (pipeline mode), and so do the writes and the COMMIT: the offer's and
the merchant's rows, which every reservation or redemption of theirs waits on, stay locked only
while PostgreSQL works, never while this process's event loop is busy with other requests. A
condition that fails inside the writing statement aborts it with ``tanhui_refuse`` (migration
0009), so the COMMIT behind it rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from backend.errors import CitizenDeleted, ForeignCode, UnknownCode
from backend.merchants.directory import check_staff
from backend.pg import HotPool
from backend.redemption.terms import check_offer_row
from backend.settlement.repository import balance_deltas, tx_row
from points_engine.ledger import Account, spend_post_tx, spend_reserve_tx
from points_engine.redemption import InsufficientPoints, OutOfStock, lookup_hash, short_code

_LOCK_CITIZEN = "SELECT balance FROM ledger_balances WHERE account = %s AND shard = 0 FOR UPDATE"

_RESERVE_READ = """
SELECT o.merchant_id, o.title, o.price_points, o.stock_left, o.per_citizen_limit, o.valid_from,
       o.valid_until, o.status, o.book, m.status AS merchant_status,
       (SELECT count(*) FROM reservations r
         WHERE r.citizen_id = %(citizen)s AND r.offer_id = %(offer)s
           AND r.status IN ('reserved', 'redeemed')) AS taken,
       EXISTS (SELECT 1 FROM reservations r
         WHERE r.citizen_id = %(citizen)s AND r.status = 'reserved' AND r.expires_at <= %(now)s) AS to_void,
       EXISTS (SELECT 1 FROM reservations r WHERE r.reservation_id = %(rid)s) AS known,
       (SELECT c.deleted_at FROM citizens c WHERE c.citizen_id = %(citizen)s) AS deleted_at
FROM (SELECT 1) AS one
LEFT JOIN offers o ON o.offer_id = %(offer)s
LEFT JOIN merchants m ON m.merchant_id = o.merchant_id
"""

# The ledger's part of a use case, as CTEs over one transaction's journal row: the balances move
# only if the journal row is new (same as ``ledger_store.post``).
_POST = """
tx AS (
  INSERT INTO ledger_transactions (tx_id, kind, cause, debit, credit, amount, booked_at)
  SELECT %(tx_id)s, %(kind)s, %(cause)s, %(debit)s, %(credit)s, %(amount)s, %(now)s
  {source}
  ON CONFLICT (tx_id) DO NOTHING
  RETURNING tx_id
),
moved AS (
  INSERT INTO ledger_balances (account, shard, balance)
  SELECT x.a, 0, x.d FROM tx, (VALUES (1, %(a1)s, %(d1)s::bigint), (2, %(a2)s, %(d2)s::bigint)) AS x(n, a, d)
  ORDER BY x.n
  ON CONFLICT (account, shard) DO UPDATE SET balance = ledger_balances.balance + EXCLUDED.balance
  RETURNING account, balance
)
"""

_RESERVE_WRITE = (
    "WITH "
    + _POST.format(source="")
    + """,
held AS (
  INSERT INTO reservations (reservation_id, offer_id, merchant_id, citizen_id, points, book, status,
                            code_hash, reserve_tx, reserved_at, expires_at)
  VALUES (%(rid)s, %(offer)s, %(merchant)s, %(citizen)s, %(amount)s, %(book)s, 'reserved',
          %(code_hash)s, %(tx_id)s, %(now)s, %(expires)s)
  RETURNING reservation_id
),
unit AS (
  UPDATE offers SET stock_left = stock_left - 1
  WHERE offer_id = %(offer)s AND stock_left > 0 AND status = 'active'
  RETURNING stock_left
)
SELECT CASE
  WHEN NOT EXISTS (SELECT 1 FROM unit) THEN tanhui_refuse('out-of-stock')
  WHEN (SELECT min(balance) FROM moved) < 0 THEN tanhui_refuse('insufficient-points')
  ELSE true
END AS reserved
"""
)

_REDEEM_READ = """
SELECT s.merchant_id AS staff_merchant, s.disabled_at, m.status AS merchant_status,
       r.reservation_id, r.citizen_id, r.merchant_id, r.points, o.title
FROM (SELECT 1) AS one
LEFT JOIN merchant_staff s ON s.staff_id = %(staff)s
LEFT JOIN merchants m ON m.merchant_id = s.merchant_id
LEFT JOIN reservations r ON {which}
LEFT JOIN offers o ON o.offer_id = r.offer_id
"""

_REDEEM_WRITE = (
    """
WITH taken AS (
  UPDATE reservations
  SET status = 'redeemed', redeemed_at = %(now)s, redeemed_by = %(staff)s, resolved_tx = %(tx_id)s
  WHERE reservation_id = %(rid)s AND status = 'reserved' AND expires_at > %(now)s
  RETURNING *
),
"""
    + _POST.format(source="FROM taken")
    + """
SELECT taken.*,
       CASE WHEN (SELECT min(balance) FROM moved) < 0 THEN tanhui_refuse('insufficient-points') END AS refused
FROM taken
"""
)


async def reserve(
    pool: HotPool,
    citizen_id: str,
    offer_id: str,
    reservation_id: str,
    code_key: bytes,
    ttl: timedelta,
    now: datetime,
) -> dict[str, Any] | None:
    """The new reservation's row (with the offer's title), or None for the general path."""

    async def use_case(conn: AsyncConnection[Any]) -> dict[str, Any] | None:
        params: dict[str, Any] = {"citizen": citizen_id, "offer": offer_id, "now": now, "rid": reservation_id}
        # One round trip for BEGIN, the lock and the read; the read still runs after the lock is
        # granted, in a snapshot of its own.
        async with conn.pipeline():
            lock = await conn.execute(_LOCK_CITIZEN, (str(Account.available(citizen_id)),))
            read = await conn.execute(_RESERVE_READ, params)
        locked, seen = await lock.fetchone(), await read.fetchone()
        available = int(locked.balance) if locked else 0
        if seen.deleted_at is not None:
            raise CitizenDeleted("this account was deleted; its tokens no longer work")
        if seen.known or seen.to_void:
            return None
        check_offer_row(seen, offer_id, now, int(seen.taken), available)
        hold = spend_reserve_tx(citizen_id, reservation_id, seen.price_points)
        code_hash = lookup_hash(short_code(code_key, reservation_id))
        params.update(
            _journal(hold, now),
            merchant=seen.merchant_id,
            book=seen.book,
            code_hash=code_hash,
            expires=now + ttl,
        )
        # The read above may be stale; the stock's row lock and condition are not. A unit gone is
        # refused inside the statement, so the COMMIT can travel with it (migration 0009).
        async with _refusals(), conn.pipeline():
            await conn.execute(_RESERVE_WRITE, params)
            await conn.commit()
        return {
            "reservation_id": reservation_id,
            "offer_id": offer_id,
            "merchant_id": seen.merchant_id,
            "citizen_id": citizen_id,
            "points": seen.price_points,
            "book": seen.book,
            "status": "reserved",
            "code_hash": code_hash,
            "reserve_tx": hold.tx_id,
            "reserved_at": now,
            "expires_at": now + ttl,
            "title": seen.title,
            "redeemed_at": None,
            "voided_at": None,
            "reversed_at": None,
        }

    return await pool.run(use_case)


async def redeem(
    pool: HotPool, staff_id: str, now: datetime, *, reservation_id: str | None, short: str | None
) -> dict[str, Any] | None:
    """The redeemed reservation's row (with the offer's title), or None for the general path
    (the code is expired, used, or its reservation is gone)."""
    which, key = (
        ("r.reservation_id = %(key)s", reservation_id)
        if reservation_id is not None
        else ("r.code_hash = %(key)s", lookup_hash(short or ""))
    )

    async def use_case(conn: AsyncConnection[Any]) -> dict[str, Any] | None:
        async with conn.pipeline():  # BEGIN travels with the read
            read = await conn.execute(_REDEEM_READ.format(which=which), {"staff": staff_id, "key": key})
        seen = await read.fetchone()
        check_staff(seen.staff_merchant, seen.disabled_at, seen.merchant_status)
        if seen.reservation_id is None:
            raise UnknownCode("no reservation has this code")
        if seen.merchant_id != seen.staff_merchant:
            raise ForeignCode("this code is for another merchant; nothing was changed")
        # A reservation's citizen, points and merchant never change: its post is known up front.
        paid = spend_post_tx(
            spend_reserve_tx(seen.citizen_id, seen.reservation_id, seen.points), seen.merchant_id
        )
        params = {"staff": staff_id, "rid": seen.reservation_id, "now": now, **_journal(paid, now)}
        async with _refusals(), conn.pipeline():  # the merchant's row is locked only inside PostgreSQL
            write = await conn.execute(_REDEEM_WRITE, params)
            await conn.commit()
        taken = await write.fetchone()
        if taken is None:  # nothing was written: expired, used or gone, the general path says which
            return None
        row = taken._asdict()
        row.pop("refused")
        return {**_utc(row), "title": seen.title}

    return await pool.run(use_case)


_REFUSED: dict[str, type[Exception]] = {"out-of-stock": OutOfStock, "insufficient-points": InsufficientPoints}
_DETAIL = {"out-of-stock": "the offer is out of stock", "insufficient-points": "not enough available points"}


@asynccontextmanager
async def _refusals() -> AsyncIterator[None]:
    """``tanhui_refuse(reason)`` raised inside a statement, as the engine's error of that reason."""
    try:
        yield
    except psycopg.errors.RaiseException as exc:
        reason = exc.diag.message_primary or ""
        if reason not in _REFUSED:
            raise
        raise _REFUSED[reason](_DETAIL[reason]) from None


def _journal(tx: Any, now: datetime) -> dict[str, Any]:
    tx_id, kind, cause, debit, credit, amount, _ = tx_row(tx, now)
    # A move has two postings on two accounts: two balance rows, in account order (lock order).
    (a1, d1), (a2, d2) = (((account, delta)) for (account, _), delta in balance_deltas([tx], 0).items())
    return {
        "tx_id": tx_id,
        "kind": kind,
        "cause": cause,
        "debit": debit,
        "credit": credit,
        "amount": amount,
        "a1": a1,
        "d1": d1,
        "a2": a2,
        "d2": d2,
    }


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.items()}
