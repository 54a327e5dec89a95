"""``points.expiring`` notices: one webhook per (partner, citizen, expiry date), queued in the
outbox (``webhook_deliveries``) for the partners the citizen is bound to with consent given and
that have a webhook. The event id names the citizen and the date, so a notice is queued once,
however many sweeps see the same points coming up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import Binding, Partner, WebhookDelivery
from backend.settlement.repository import dialect_insert
from points_engine.expiry import Expiring

KIND = "points.expiring"
BINDINGS: Table = Binding.__table__  # type: ignore[assignment]
PARTNERS: Table = Partner.__table__  # type: ignore[assignment]
WEBHOOKS: Table = WebhookDelivery.__table__  # type: ignore[assignment]


def event_id(citizen_id: str, expiring: Expiring) -> str:
    """At most 60 characters (citizen ids have at most 40): the outbox keeps 64."""
    return f"expiring:{citizen_id}:{expiring.on.isoformat()}"


async def queue(conn: AsyncConnection, upcoming: Mapping[str, Sequence[Expiring]], now: datetime) -> int:
    """Queue the notices of ``upcoming`` (citizen → dates) not queued before; how many were new."""
    if not upcoming:
        return 0
    users = await _hooked_users(conn, list(upcoming))
    rows = [
        {
            "partner_id": partner_id,
            "event_id": event_id(citizen_id, e),
            "kind": KIND,
            "payload": payload(citizen_id, partner_users, e),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for citizen_id, dates in upcoming.items()
        for partner_id, partner_users in users.get(citizen_id, {}).items()
        for e in dates
    ]
    if not rows:
        return 0
    inserted = await conn.execute(
        dialect_insert(conn, WEBHOOKS).on_conflict_do_nothing().returning(WEBHOOKS.c.event_id), rows
    )
    return len(inserted.all())


def payload(citizen_id: str, users: list[str], expiring: Expiring) -> dict[str, Any]:
    """What the partner receives as ``data`` (docs/webhooks.md, "points.expiring")."""
    return {
        "event_id": event_id(citizen_id, expiring),
        "citizen_id": citizen_id,
        "users": users,
        "points": expiring.points,
        "expires_on": expiring.on.isoformat(),
    }


async def _hooked_users(conn: AsyncConnection, citizen_ids: list[str]) -> dict[str, dict[str, list[str]]]:
    """citizen → partner with a webhook → the citizen's users there whose consent stands."""
    b = BINDINGS.c
    rows = await conn.execute(
        select(b.citizen_id, b.partner_id, b.user)
        .join(PARTNERS, PARTNERS.c.partner_id == b.partner_id)
        .where(
            b.citizen_id.in_(citizen_ids),
            b.consent_withdrawn_at.is_(None),
            PARTNERS.c.webhook_url.is_not(None),
        )
        .order_by(b.citizen_id, b.partner_id, b.user)
    )
    found: dict[str, dict[str, list[str]]] = {}
    for citizen_id, partner_id, user in rows:
        found.setdefault(citizen_id, {}).setdefault(partner_id, []).append(user)
    return found
