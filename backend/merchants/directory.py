"""Merchants and their staff. A staff member's token is a ``merchant`` token whose ``sub`` is the
staff id; every request checks the row, so disabling staff or suspending a merchant takes effect
at once rather than when tokens expire."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit, ledger_store
from backend.context import Platform
from backend.db import Database, Tx
from backend.errors import MerchantExists, NotFound, StaffDisabled, UnknownMerchant
from backend.merchants.schemas import MerchantRead, StaffRead, StaffToken
from backend.models import Merchant, MerchantStaff
from backend.settlement.repository import dialect_insert
from points_engine.ledger import Account

MERCHANTS: Table = Merchant.__table__  # type: ignore[assignment]
STAFF: Table = MerchantStaff.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Staff:
    """An authenticated staff member and the merchant they act for."""

    staff_id: str
    merchant_id: str
    book: str


async def create_merchant(db: Database, merchant_id: str, name: str, book: str, actor: str) -> MerchantRead:
    async def use_case(tx: Tx) -> MerchantRead:
        row = {"merchant_id": merchant_id, "name": name, "book": book, "status": "active"}
        inserted = await tx.conn.execute(
            dialect_insert(tx.conn, MERCHANTS)
            .values(**row, created_at=tx.started_at)
            .on_conflict_do_nothing()
            .returning(MERCHANTS.c.merchant_id)
        )
        if inserted.first() is None:
            raise MerchantExists(f"merchant {merchant_id!r} exists")
        await audit.record(
            tx, actor, "merchant.created", f"merchant:{merchant_id}", {"name": name, "book": book}
        )
        return MerchantRead(**row, created_at=tx.started_at, balance=0)  # type: ignore[arg-type]

    result: MerchantRead = await db.run(use_case)
    return result


async def set_status(db: Database, merchant_id: str, status: str, actor: str) -> MerchantRead:
    async def use_case(tx: Tx) -> None:
        changed = await tx.conn.execute(
            update(MERCHANTS).where(MERCHANTS.c.merchant_id == merchant_id).values(status=status)
        )
        if not changed.rowcount:
            raise UnknownMerchant(f"no merchant {merchant_id!r}")
        await audit.record(tx, actor, f"merchant.{status}", f"merchant:{merchant_id}", {})

    await db.run(use_case)
    return await get_merchant(db, merchant_id)


async def list_merchants(db: Database) -> list[MerchantRead]:
    async with db.read() as conn:
        rows = list(await conn.execute(select(MERCHANTS).order_by(MERCHANTS.c.merchant_id)))
        balances = await _balances(conn, [r.merchant_id for r in rows])
    return [_merchant(r, balances[r.merchant_id]) for r in rows]


async def get_merchant(db: Database, merchant_id: str) -> MerchantRead:
    async with db.read() as conn:
        row = (await conn.execute(select(MERCHANTS).where(MERCHANTS.c.merchant_id == merchant_id))).first()
        if row is None:
            raise UnknownMerchant(f"no merchant {merchant_id!r}")
        balances = await _balances(conn, [merchant_id])
    return _merchant(row, balances[merchant_id])


async def add_staff(platform: Platform, merchant_id: str, name: str, actor: str) -> StaffToken:
    """A new staff member of the merchant, with a first token (shown once; mint more later)."""
    staff_id = f"s_{secrets.token_hex(8)}"

    async def use_case(tx: Tx) -> StaffRead:
        merchant = (
            await tx.conn.execute(
                select(MERCHANTS.c.merchant_id).where(MERCHANTS.c.merchant_id == merchant_id)
            )
        ).first()
        if merchant is None:
            raise UnknownMerchant(f"no merchant {merchant_id!r}")
        row = {"staff_id": staff_id, "merchant_id": merchant_id, "name": name, "created_at": tx.started_at}
        await tx.conn.execute(STAFF.insert().values(**row))
        await audit.record(
            tx, actor, "merchant.staff-added", f"staff:{staff_id}", {"merchant_id": merchant_id}
        )
        return StaffRead(**row, disabled_at=None)

    staff: StaffRead = await platform.db.run(use_case)
    return staff_token(platform, staff)


async def mint_staff_token(platform: Platform, merchant_id: str, staff_id: str) -> StaffToken:
    async with platform.db.read() as conn:
        row = (
            await conn.execute(
                select(STAFF).where(STAFF.c.staff_id == staff_id, STAFF.c.merchant_id == merchant_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"merchant {merchant_id!r} has no staff {staff_id!r}")
    if row.disabled_at is not None:
        raise StaffDisabled(f"staff {staff_id!r} is disabled")
    return staff_token(platform, StaffRead.model_validate(row, from_attributes=True))


def staff_token(platform: Platform, staff: StaffRead) -> StaffToken:
    ttl = platform.settings.operator_token_ttl_s
    token = platform.tokens.mint(staff.staff_id, "merchant", ttl, int(time.time()))
    return StaffToken(staff=staff, access_token=token, expires_in=ttl)


async def disable_staff(db: Database, merchant_id: str, staff_id: str, actor: str) -> StaffRead:
    async def use_case(tx: Tx) -> StaffRead:
        row = (
            await tx.conn.execute(
                update(STAFF)
                .where(STAFF.c.staff_id == staff_id, STAFF.c.merchant_id == merchant_id)
                .values(disabled_at=func.coalesce(STAFF.c.disabled_at, tx.started_at))
                .returning(*STAFF.c)
            )
        ).first()
        if row is None:
            raise NotFound(f"merchant {merchant_id!r} has no staff {staff_id!r}")
        await audit.record(
            tx, actor, "merchant.staff-disabled", f"staff:{staff_id}", {"merchant_id": merchant_id}
        )
        return StaffRead.model_validate(row, from_attributes=True)

    result: StaffRead = await db.run(use_case)
    return result


async def list_staff(db: Database, merchant_id: str) -> list[StaffRead]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(STAFF).where(STAFF.c.merchant_id == merchant_id).order_by(STAFF.c.created_at)
        )
        return [StaffRead.model_validate(r, from_attributes=True) for r in rows]


async def authenticate(db: Database, staff_id: str) -> Staff:
    """The staff member behind a valid ``merchant`` token; ``StaffDisabled`` if they or their
    merchant may no longer act."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(STAFF.c.merchant_id, STAFF.c.disabled_at, MERCHANTS.c.status, MERCHANTS.c.book)
                .join(MERCHANTS, MERCHANTS.c.merchant_id == STAFF.c.merchant_id)
                .where(STAFF.c.staff_id == staff_id)
            )
        ).first()
    merchant_id, disabled_at, status, book = row or (None, None, None, None)
    check_staff(merchant_id, disabled_at, status)
    return Staff(staff_id, str(merchant_id), str(book))


def check_staff(merchant_id: str | None, disabled_at: object, merchant_status: str | None) -> None:
    """``StaffDisabled`` unless a staff member (of ``merchant_id``; None: no such staff) is enabled
    and their merchant active. The redemption hot path reads the same columns in its own statement."""
    if merchant_id is None or disabled_at is not None:
        raise StaffDisabled("this staff token is not (or no longer) valid for any merchant")
    if merchant_status != "active":
        raise StaffDisabled(f"merchant {merchant_id!r} is {merchant_status}")


async def _balances(conn: AsyncConnection, merchant_ids: list[str]) -> dict[str, int]:
    """Each merchant's balance (its account's, summed over shards; 0 before its first redemption)."""
    sums = await ledger_store.balances(conn, map(Account.merchant, merchant_ids))
    return {m: sums[str(Account.merchant(m))] for m in merchant_ids}


def _merchant(row: Row[tuple[object, ...]], balance: int) -> MerchantRead:
    return MerchantRead.model_validate({**row._mapping, "balance": balance})
