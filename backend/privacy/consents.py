"""A citizen's consent to each partner declaring on their behalf (粤环发〔2022〕4号: a written
entrustment per partner). Withdrawn, the partner's new actions for the citizen are refused at intake
(``consent-withdrawn``) and it can no longer mint citizen tokens; granted again, both resume."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, func, select, update

from backend import audit
from backend.citizens import profile
from backend.citizens.profile import PartnerBinding
from backend.db import Database, Tx
from backend.errors import CitizenDeleted, NotFound
from backend.models import Binding, Citizen

BINDINGS: Table = Binding.__table__  # type: ignore[assignment]
CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]


async def withdraw(db: Database, citizen_id: str, partner_id: str) -> PartnerBinding:
    """Withdraw consent for every user of the citizen at ``partner_id``. Idempotent: a withdrawal
    keeps its first time. NotFound if the citizen has no binding at that partner."""
    await db.run(lambda tx: _set(tx, citizen_id, partner_id, withdrawn=True))
    return await _consent(db, citizen_id, partner_id)


async def grant(db: Database, citizen_id: str, partner_id: str) -> PartnerBinding:
    """Give consent again for every user of the citizen at ``partner_id``. Idempotent."""
    await db.run(lambda tx: _set(tx, citizen_id, partner_id, withdrawn=False))
    return await _consent(db, citizen_id, partner_id)


async def _set(tx: Tx, citizen_id: str, partner_id: str, *, withdrawn: bool) -> None:
    # Shares the lock a deletion takes on the citizen: a consent given again cannot land after it.
    live = select(CITIZENS.c.deleted_at).where(CITIZENS.c.citizen_id == citizen_id).with_for_update(read=True)
    if (await tx.conn.execute(live)).scalar_one_or_none() is not None:
        raise CitizenDeleted("this account was deleted")
    mine = (BINDINGS.c.citizen_id == citizen_id) & (BINDINGS.c.partner_id == partner_id)
    bound = (await tx.conn.execute(select(func.count()).where(mine))).scalar_one()
    if not bound:
        raise NotFound(f"you are not bound to a partner {partner_id!r}")
    current = BINDINGS.c.consent_withdrawn_at
    value: datetime | None = tx.started_at if withdrawn else None
    changed = (
        await tx.conn.execute(
            update(BINDINGS)
            .where(mine, current.is_(None) if withdrawn else current.is_not(None))
            .values(consent_withdrawn_at=value)
        )
    ).rowcount
    if changed:  # the log records changes; a repeated request changed nothing
        action = "citizen.consent-withdrawn" if withdrawn else "citizen.consent-granted"
        subject = f"citizen:{citizen_id}"
        await audit.record(tx, subject, action, subject, {"partner_id": partner_id, "bindings": changed})


async def _consent(db: Database, citizen_id: str, partner_id: str) -> PartnerBinding:
    citizen = await profile.profile(db, citizen_id)
    return next(p for p in citizen.partners if p.partner_id == partner_id)
