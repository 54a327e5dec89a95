"""The citizen's profile (the partners bound and their consent) and point balances (with what
expires within 30 days: docs/expiry.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Table, select

from backend import ledger_store
from backend.db import Database
from backend.errors import NotFound
from backend.expiry.movements import available_of, movements
from backend.models import Binding, Citizen
from points_engine.expiry import Expiring, outlook
from points_engine.ledger import Account

CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]
BINDINGS: Table = Binding.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class PartnerBinding:
    partner_id: str
    bound_at: datetime
    consent: Literal["given", "withdrawn"]
    withdrawn_at: datetime | None


@dataclass(frozen=True, slots=True)
class Profile:
    citizen_id: str
    created_at: datetime
    partners: list[PartnerBinding]


@dataclass(frozen=True, slots=True)
class Balances:
    pending: int
    available: int
    held: int
    expiring: int  # of ``available``, what expires within 30 days (or is past due, awaiting the sweep)
    next_expiry: Expiring | None


async def profile(db: Database, citizen_id: str) -> Profile:
    """The citizen and, per partner, the first binding's time and the consent now: ``given`` while
    any of the citizen's users at that partner has not withdrawn. NotFound for an unknown citizen."""
    async with db.read() as conn:
        created = (
            await conn.execute(select(CITIZENS.c.created_at).where(CITIZENS.c.citizen_id == citizen_id))
        ).scalar_one_or_none()
        if created is None:
            raise NotFound(f"no citizen {citizen_id!r}")
        rows = (
            await conn.execute(
                select(BINDINGS.c.partner_id, BINDINGS.c.created_at, BINDINGS.c.consent_withdrawn_at)
                .where(BINDINGS.c.citizen_id == citizen_id)
                .order_by(BINDINGS.c.partner_id, BINDINGS.c.created_at)
            )
        ).all()
    by_partner: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for partner_id, bound_at, withdrawn_at in rows:
        by_partner.setdefault(partner_id, []).append((bound_at, withdrawn_at))
    return Profile(citizen_id, created, [_binding(p, bs) for p, bs in by_partner.items()])


def _binding(partner_id: str, bindings: list[tuple[datetime, datetime | None]]) -> PartnerBinding:
    bound_at = min(b for b, _ in bindings)
    withdrawals = [w for _, w in bindings]
    if any(w is None for w in withdrawals):
        return PartnerBinding(partner_id, bound_at, "given", None)
    return PartnerBinding(partner_id, bound_at, "withdrawn", max(w for w in withdrawals if w is not None))


async def balances(
    db: Database, citizen_id: str, validity_months: int, now: datetime | None = None
) -> Balances:
    """The citizen's pending, available and held points (each the sum of its shards; none = 0),
    and of the available ones, what expires within 30 days of ``now`` and the first such date."""
    accounts = (Account.pending(citizen_id), Account.available(citizen_id), Account.held(citizen_id))
    async with db.read() as conn:
        pending, available, held = (await ledger_store.balances(conn, accounts)).values()
        history = (await movements(conn, [available_of(citizen_id)]))[available_of(citizen_id)]
    expiring = outlook(history, now or datetime.now(UTC), validity_months).expiring
    return Balances(
        pending, available, held, sum(e.points for e in expiring), expiring[0] if expiring else None
    )
