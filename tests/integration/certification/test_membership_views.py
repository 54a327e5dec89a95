"""The citizen API's view of which actions are certified (backend.citizens.certified, one citizen
at a time) agrees with the one definition runs are built from (backend.certification.members)."""

from __future__ import annotations

from sqlalchemy import select

from backend.certification import reviews
from backend.certification.members import leaves
from backend.certification.runs import RUNS, certify, scope_of
from backend.citizens.certified import certified
from backend.models import SettledOutcome
from tests.integration.certification.seed import Seeded
from tests.integration.certification.test_runs import NOV
from tests.integration.reconcile.data import certified_history, settled

OUTCOMES = SettledOutcome.__table__  # type: ignore[attr-defined]


async def test_each_citizens_certified_actions_are_exactly_their_leaves_in_the_runs(platform):
    await certified_history(platform)
    await settled(platform, [Seeded("transit_st", "flagged-9", "c_0005", NOV, 7000, 700, flagged=True)])
    await reviews.decide(platform.db, "transit_st", "flagged-9", "approved", reviewer="admin:test")
    await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    in_runs: set[tuple[str, str, str]] = set()
    seen: set[tuple[str, str, str]] = set()
    async with platform.db.read() as conn:
        for run in list(await conn.execute(select(RUNS))):
            async for leaf in leaves(conn, scope_of(run)):
                in_runs.add((leaf.partner_id, leaf.event_id, run.run_id))
        citizens = set((await conn.execute(select(OUTCOMES.c.citizen_id).distinct())).scalars())
        for citizen in citizens:
            view = await certified(conn, citizen)
            seen |= {(p, e, r) for p, e, r in await conn.execute(select(view))}
    assert ("transit_st", "flagged-9") in {(p, e) for p, e, _ in seen}
    assert seen == in_runs
