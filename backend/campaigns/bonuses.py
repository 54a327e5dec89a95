"""The citizen's campaign bonuses, newest grant first, one keyset page at a time.

The cursor is the citizens' usual one (``backend.citizens.keyset``) over the grant's key: its time,
its campaign, and ``{partner_id}/{event_id}`` (partner ids hold no ``/``, so it splits one way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select

from backend.campaigns.store import CAMPAIGNS, GRANTS
from backend.citizens import keyset
from backend.db import Database
from backend.errors import InvalidRequest
from backend.settlement.repository import OUTCOMES


@dataclass(frozen=True, slots=True)
class BonusItem:
    campaign_id: str
    campaign_name: str
    partner_id: str
    event_id: str
    type: str
    occurred_at: datetime
    points: int
    granted_at: datetime


async def bonuses(
    db: Database, citizen_id: str, *, after: str | None = None, limit: int = 20
) -> keyset.Page[BonusItem]:
    """The bonuses granted to the citizen, after the cursor ``after``."""
    g, c, o = GRANTS.c, CAMPAIGNS.c, OUTCOMES.c
    query = (
        select(g.campaign_id, c.name, g.partner_id, g.event_id, o.type, o.occurred_at, g.points, g.granted_at)
        .join_from(GRANTS, CAMPAIGNS, c.campaign_id == g.campaign_id)
        .join(OUTCOMES, and_(o.partner_id == g.partner_id, o.event_id == g.event_id))
        .where(g.citizen_id == citizen_id)
        .order_by(g.granted_at.desc(), g.campaign_id, g.partner_id, g.event_id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(_after(after))
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    items = [
        BonusItem(
            r.campaign_id,
            r.name,
            r.partner_id,
            r.event_id,
            r.type,
            r.occurred_at,
            int(r.points),
            r.granted_at,
        )
        for r in rows
    ]
    return keyset.page(items, limit, lambda i: (i.granted_at, i.campaign_id, f"{i.partner_id}/{i.event_id}"))


def _after(cursor: str) -> ColumnElement[bool]:
    at, campaign_id, grant_key = keyset.decode(cursor)
    partner_id, slash, event_id = grant_key.partition("/")
    if not slash:
        raise InvalidRequest(f"/after: {cursor!r} is not a cursor of this list")
    g = GRANTS.c
    return or_(
        g.granted_at < at,
        and_(
            g.granted_at == at,
            or_(
                g.campaign_id > campaign_id,
                and_(
                    g.campaign_id == campaign_id,
                    or_(g.partner_id > partner_id, and_(g.partner_id == partner_id, g.event_id > event_id)),
                ),
            ),
        ),
    )
