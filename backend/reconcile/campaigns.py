"""Check ``campaigns``: every campaign's budget, grants and ledger account tell one story.

- the points a campaign records as granted are the sum of its grants (one row per action);
- it never granted more than its budget;
- its ledger account (``campaign:{id}``, a source: it goes negative by what it gave) stands at
  minus what it granted: every grant was booked, once, and nothing else drew on the budget.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.ledger_store import balances
from backend.models import CampaignGrant, CampaignRecord
from backend.reconcile.findings import Sink
from points_engine.ledger import Account

CAMPAIGNS: Table = CampaignRecord.__table__  # type: ignore[assignment]
GRANTS: Table = CampaignGrant.__table__  # type: ignore[assignment]


async def check(conn: AsyncConnection, sink: Sink) -> dict[str, Any]:
    sums = dict(
        (
            await conn.execute(
                select(GRANTS.c.campaign_id, func.sum(GRANTS.c.points)).group_by(GRANTS.c.campaign_id)
            )
        ).all()
    )
    campaigns = list(
        await conn.execute(
            select(CAMPAIGNS.c.campaign_id, CAMPAIGNS.c.budget_points, CAMPAIGNS.c.granted_points)
        )
    )
    booked = await balances(conn, [Account.campaign(c.campaign_id) for c in campaigns])
    for c in campaigns:
        sink.examined()
        subject = f"campaign {c.campaign_id}"
        granted = int(sums.pop(c.campaign_id, 0) or 0)
        if granted != c.granted_points:
            sink.report(
                subject,
                "campaign-granted",
                f"records {c.granted_points} granted; its grants sum to {granted}",
            )
        if c.granted_points > c.budget_points:
            sink.report(
                subject, "campaign-overspent", f"granted {c.granted_points} of a budget of {c.budget_points}"
            )
        account = str(Account.campaign(c.campaign_id))
        if booked[account] != -granted:
            sink.report(
                f"account {account}",
                "campaign-balance",
                f"balance {booked[account]}; its grants total {granted}",
            )
    for orphan in sorted(sums):
        sink.report(f"campaign {orphan}", "campaign-unknown", "grants of a campaign that does not exist")
    return {"campaigns": len(campaigns)}
