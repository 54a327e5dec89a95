"""Registry accounts: the books' own, the Nan'ao pilot's (created on first use) and buyers'."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit
from backend.certification.books import ACCOUNTS, ensure_books
from backend.certification.runs import RANGES
from backend.db import Database, Tx
from backend.errors import AccountExists, UnknownAccount
from backend.registry.rules import ACCOUNT_ID, CURRENT, check_account_id, check_text
from backend.registry.schemas import AccountRead, Holding


async def create_buyer(db: Database, account_id: str, name: str, actor: str) -> AccountRead:
    """A new buyer account (it may hold credits of any book); ``account-exists`` if the id is taken,
    the platform's own ids included."""
    check_account_id(account_id)
    check_text("name", name)

    async def use_case(tx: Tx) -> AccountRead:
        await ensure_books(tx.conn, tx.started_at)
        insert = (postgresql if tx.conn.dialect.name == "postgresql" else sqlite).insert
        new = AccountRead(
            account_id=account_id, kind="buyer", name=name, book=None, created_at=tx.started_at, holdings=[]
        )
        row = new.model_dump(exclude={"holdings"})
        query = insert(ACCOUNTS).values(**row).on_conflict_do_nothing().returning(ACCOUNTS.c.account_id)
        if (await tx.conn.execute(query)).first() is None:
            raise AccountExists(f"registry account {account_id!r} exists")
        details = {"kind": "buyer", "name": name}
        await audit.record(tx, actor, "registry.account-created", f"account:{account_id}", details)
        return new

    result: AccountRead = await db.run(use_case)
    return result


async def list_accounts(db: Database) -> list[AccountRead]:
    """Every account with the tonnes it holds per book, active and retired."""
    async with db.read() as conn:
        accounts = list(await conn.execute(select(ACCOUNTS).order_by(ACCOUNTS.c.account_id)))
        held = await _holdings(conn)
    return [
        AccountRead(
            account_id=a.account_id,
            kind=a.kind,
            name=a.name,
            book=a.book,
            created_at=a.created_at,
            holdings=held.get(a.account_id, []),
        )
        for a in accounts
    ]


async def _holdings(conn: AsyncConnection) -> dict[str, list[Holding]]:
    tonnes = func.sum(RANGES.c["last"] - RANGES.c["first"] + 1)
    rows = await conn.execute(
        select(RANGES.c.account_id, RANGES.c.book, RANGES.c.status, tonnes)
        .where(RANGES.c.status.in_(CURRENT))
        .group_by(RANGES.c.account_id, RANGES.c.book, RANGES.c.status)
    )
    by_book: dict[tuple[str, str], dict[str, int]] = {}
    for account_id, book, status, t in rows:
        by_book.setdefault((account_id, book), {"active": 0, "retired": 0})[status] = int(t)
    held: dict[str, list[Holding]] = {}
    for (account_id, book), t in sorted(by_book.items()):
        held.setdefault(account_id, []).append(
            Holding(book=book, active_t=t["active"], retired_t=t["retired"])
        )
    return held


async def account(conn: AsyncConnection, account_id: str) -> Any:
    """The account row; ``unknown-account`` if there is none (or the id cannot be one)."""
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise UnknownAccount(f"no registry account {account_id!r}")
    row = (await conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.account_id == account_id))).first()
    if row is None:
        raise UnknownAccount(f"no registry account {account_id!r}")
    return row
