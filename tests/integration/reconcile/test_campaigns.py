"""The ``campaigns`` reconciliation: clean after real grants (a budget spent to the point), and
each tampering with a campaign's record, grants or account named by its row."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backend.campaigns.grants import grant_due
from backend.context import Platform
from backend.reconcile import reconcile
from tests.integration.campaigns.seed import assert_budget_invariant, settle
from tests.integration.campaigns.test_grants import NOW, car_free_day, trips

pytestmark = pytest.mark.integration


async def _granted(platform: Platform) -> int:
    """A campaign whose budget (1,500) runs out within 20 trips of 100 points each."""
    await car_free_day(platform, budget_points=1_500)
    await settle(platform, trips(20))
    await grant_due(platform, now=NOW)
    return await assert_budget_invariant(platform, "car-free-day")


async def test_a_spent_campaign_reconciles(platform: Platform) -> None:
    assert await _granted(platform) == 1_500
    report = await reconcile(platform.db)
    assert report.ok, [str(f) for f in report.findings]
    assert report.checks["campaigns"].checked == 1
    assert report.info["campaigns"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "UPDATE campaigns SET granted_points = granted_points - 100",
            {("campaign-granted", "campaign car-free-day")},
        ),
        (
            "UPDATE campaigns SET budget_points = 1000",
            {("campaign-overspent", "campaign car-free-day")},
        ),
        (
            "DELETE FROM campaign_grants WHERE event_id = (SELECT min(event_id) FROM campaign_grants)",
            {("campaign-granted", "campaign car-free-day"),
             ("campaign-balance", "account campaign:car-free-day")},
        ),
        (
            "UPDATE campaign_grants SET campaign_id = 'gone'"
            " WHERE event_id = (SELECT min(event_id) FROM campaign_grants)",
            {("campaign-granted", "campaign car-free-day"),
             ("campaign-balance", "account campaign:car-free-day"),
             ("campaign-unknown", "campaign gone")},
        ),
    ],
)  # fmt: skip
async def test_tampering_is_named(platform: Platform, change: str, expected: set[tuple[str, str]]) -> None:
    await _granted(platform)
    await platform.db.run(lambda tx: tx.conn.execute(text(change)))
    report = await reconcile(platform.db)
    assert {(f.code, f.subject) for f in report.findings if f.check == "campaigns"} == expected
