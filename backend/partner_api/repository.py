"""SQL of partner intake and bindings. Receives an open transaction; never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import AcceptedAction, Binding, Citizen, Partner

ACTIONS: Table = AcceptedAction.__table__  # type: ignore[assignment]
BINDINGS: Table = Binding.__table__  # type: ignore[assignment]
CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]
PARTNERS: Table = Partner.__table__  # type: ignore[assignment]


def _insert(conn: AsyncConnection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def bound_citizens(
    conn: AsyncConnection, partner_id: str, users: Iterable[str]
) -> dict[str, tuple[str, bool]]:
    """user -> (citizen_id, consent withdrawn?) for the given users of a partner."""
    users = list(users)
    if not users:
        return {}
    rows = await conn.execute(
        select(BINDINGS.c.user, BINDINGS.c.citizen_id, BINDINGS.c.consent_withdrawn_at).where(
            BINDINGS.c.partner_id == partner_id, BINDINGS.c.user.in_(users)
        )
    )
    return {r.user: (r.citizen_id, r.consent_withdrawn_at is not None) for r in rows}


async def insert_new_actions(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert actions not seen before; the event ids actually inserted. (PostgreSQL takes
    ``pg_intake`` instead: one statement for the whole use case.)"""
    if not rows:
        return set()
    # executemany: SQLAlchemy batches it into multi-row INSERTs from one cached compiled statement
    # ("insertmanyvalues"); a .values(rows) statement would be compiled anew for every batch.
    stmt = _insert(conn, ACTIONS).on_conflict_do_nothing().returning(ACTIONS.c.event_id)
    return {r[0] for r in await conn.execute(stmt, list(rows))}


async def content_hashes(conn: AsyncConnection, partner_id: str, event_ids: Iterable[str]) -> dict[str, str]:
    ids = list(event_ids)
    if not ids:
        return {}
    rows = await conn.execute(
        select(ACTIONS.c.event_id, ACTIONS.c.content_hash).where(
            ACTIONS.c.partner_id == partner_id, ACTIONS.c.event_id.in_(ids)
        )
    )
    return {r.event_id: r.content_hash for r in rows}


async def accepted_action(conn: AsyncConnection, partner_id: str, event_id: str) -> Any:
    rows = await conn.execute(
        select(ACTIONS).where(tuple_(ACTIONS.c.partner_id, ACTIONS.c.event_id) == (partner_id, event_id))
    )
    return rows.first()


async def binding_of(conn: AsyncConnection, partner_id: str, user: str) -> Any:
    rows = await conn.execute(
        select(BINDINGS.c.citizen_id, CITIZENS.c.mobile_hash, BINDINGS.c.consent_withdrawn_at)
        .join(CITIZENS, CITIZENS.c.citizen_id == BINDINGS.c.citizen_id)
        .where(BINDINGS.c.partner_id == partner_id, BINDINGS.c.user == user)
    )
    return rows.first()


async def citizen_by_mobile(conn: AsyncConnection, mobile_hash: str, new_id: str, now: datetime) -> str:
    """The citizen with this mobile hash, created as ``new_id`` if there is none (race-free).

    The citizen's row is share-locked to the end of the transaction: an account deletion (which
    locks it to update) either waits for this binding to commit, then pseudonymises it with the
    rest, or commits first, and the mobile's hash is then a tombstone: a new citizen is made."""
    for _ in range(2):
        await conn.execute(
            _insert(conn, CITIZENS)
            .values(citizen_id=new_id, mobile_hash=mobile_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=["mobile_hash"])
        )
        query = select(CITIZENS.c.citizen_id).where(CITIZENS.c.mobile_hash == mobile_hash)
        row = (await conn.execute(query.with_for_update(read=True))).first()
        if row is not None:
            return str(row.citizen_id)
        # (the citizen was deleted between the insert and the lock: the hash is free now)
    raise AssertionError(f"no citizen for a mobile hash after inserting one: {new_id}")


async def insert_binding(
    conn: AsyncConnection, partner_id: str, user: str, citizen_id: str, now: datetime
) -> bool:
    """Bind; False if the (partner, user) was bound meanwhile."""
    stmt = (
        _insert(conn, BINDINGS)
        .values(partner_id=partner_id, user=user, citizen_id=citizen_id, created_at=now)
        .on_conflict_do_nothing()
        .returning(BINDINGS.c.user)
    )
    return (await conn.execute(stmt)).first() is not None


async def set_webhook(conn: AsyncConnection, partner_id: str, url: str | None, sealed: str | None) -> None:
    await conn.execute(
        update(PARTNERS)
        .where(PARTNERS.c.partner_id == partner_id)
        .values(webhook_url=url, webhook_secret_enc=sealed)
    )
