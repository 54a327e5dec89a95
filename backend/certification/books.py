"""The books' own rows, created on first use: their certification counters and the platform's
registry accounts (one per book, and the Nan'ao pilot's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import CertificationBook, RegistryAccount
from points_engine.regions import BOOKS

BOOK_ROWS: Table = CertificationBook.__table__  # type: ignore[assignment]
ACCOUNTS: Table = RegistryAccount.__table__  # type: ignore[assignment]

PILOT_ACCOUNT = "nanao-pilot"
PLATFORM_ACCOUNTS = (
    {"account_id": "shantou", "kind": "book", "name": "Shantou book (platform)", "book": "shantou"},
    {"account_id": "nanao", "kind": "book", "name": "Nan'ao book (platform)", "book": "nanao"},
    {"account_id": PILOT_ACCOUNT, "kind": "pilot", "name": "Nan'ao carbon-neutral pilot", "book": "nanao"},
)


async def ensure_books(conn: AsyncConnection, now: datetime) -> None:
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
    await conn.execute(
        insert(BOOK_ROWS).on_conflict_do_nothing(), [{"book": b, "carry_g": 0, "runs": 0} for b in BOOKS]
    )
    await conn.execute(
        insert(ACCOUNTS).on_conflict_do_nothing(), [{**a, "created_at": now} for a in PLATFORM_ACCOUNTS]
    )
