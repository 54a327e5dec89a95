"""SQL of the webhook outbox (``webhook_deliveries``). Receives an open transaction; never commits.

A dispatcher claims due rows by moving their ``next_attempt_at`` to the end of a lease, so that
other dispatchers pass them over until it ends; on PostgreSQL they also skip rows that a claim
in progress has locked. A failure is recorded only while the row is still leased to its claimer
(another dispatcher may have claimed it after a lease ran out); a success is recorded always.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models import Partner, WebhookDelivery
from backend.models.types import UtcDateTime

DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]
PARTNERS: Table = Partner.__table__  # type: ignore[assignment]
_ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery leased to this dispatcher, with where it goes (None: no webhook any more)."""

    partner_id: str
    event_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    lease_until: datetime
    webhook_url: str | None
    sealed_secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed delivery; ``next_attempt_at`` None means nothing more to try."""

    row: Claimed
    attempted: bool  # a POST was made (False: there was nowhere to send it)
    delivered: bool
    at: datetime
    error: str | None = None
    next_attempt_at: datetime | None = None


async def claim_due(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` undelivered rows due at ``now`` (oldest due first) until ``lease_until``."""
    d = DELIVERIES.c
    rows = (
        await conn.execute(
            select(d.partner_id, d.event_id, d.kind, d.payload, d.attempts, d.created_at)
            .where(d.delivered_at.is_(None), d.next_attempt_at <= now)
            .order_by(d.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer and ignores it
        )
    ).all()
    if not rows:
        return []
    keys = [(r.partner_id, r.event_id, r.kind) for r in rows]
    await conn.execute(
        update(DELIVERIES)
        .where(tuple_(d.partner_id, d.event_id, d.kind).in_(keys))
        .values(next_attempt_at=lease_until)
    )
    hooks = await _webhooks(conn, {r.partner_id for r in rows})
    return [
        Claimed(
            partner_id=r.partner_id,
            event_id=r.event_id,
            kind=r.kind,
            payload=r.payload,
            attempts=r.attempts,
            created_at=r.created_at,
            lease_until=lease_until,
            webhook_url=hooks.get(r.partner_id, (None, None))[0],
            sealed_secret=hooks.get(r.partner_id, (None, None))[1],
        )
        for r in rows
    ]


async def record(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> None:
    """Write the outcomes of a round: delivered rows are done; the others are rescheduled or given up."""
    delivered = [_params(o) for o in outcomes if o.delivered]
    failed = [_params(o) for o in outcomes if not o.delivered]
    if delivered:
        await conn.execute(_DELIVERED, delivered)
    if failed:
        await conn.execute(_FAILED, failed)


async def _webhooks(conn: AsyncConnection, partner_ids: set[str]) -> dict[str, tuple[str, str]]:
    """partner_id -> (webhook URL, sealed secret), for the partners that have a webhook."""
    p = PARTNERS.c
    rows = await conn.execute(
        select(p.partner_id, p.webhook_url, p.webhook_secret_enc).where(p.partner_id.in_(partner_ids))
    )
    return {r.partner_id: (r.webhook_url, r.webhook_secret_enc) for r in rows if r.webhook_url}


def _params(o: Outcome) -> dict[str, Any]:
    return {
        "b_partner_id": o.row.partner_id,
        "b_event_id": o.row.event_id,
        "b_kind": o.row.kind,
        "b_lease_until": o.row.lease_until,
        "b_tried": int(o.attempted),
        "b_at": o.at,
        "b_error": None if o.error is None else o.error[:_ERROR_MAX],
        "b_next": o.next_attempt_at,
    }


_d = DELIVERIES.c
_ROW = (
    _d.partner_id == bindparam("b_partner_id"),
    _d.event_id == bindparam("b_event_id"),
    _d.kind == bindparam("b_kind"),
    _d.delivered_at.is_(None),
)
_DELIVERED = (
    update(DELIVERIES)
    .where(*_ROW)
    .values(
        attempts=_d.attempts + bindparam("b_tried"),
        delivered_at=bindparam("b_at", type_=UtcDateTime()),
        next_attempt_at=None,
    )
)
_FAILED = (
    update(DELIVERIES)
    .where(*_ROW, _d.next_attempt_at == bindparam("b_lease_until", type_=UtcDateTime()))
    .values(
        attempts=_d.attempts + bindparam("b_tried"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
    )
)
