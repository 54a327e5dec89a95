"""Verification after every operation the platform performs on credits and flagged actions:
reviews (approval certified later, rejection voided), transfers and retirements that split ranges.
Each leaves a database that reconciles with no finding."""

from __future__ import annotations

from backend import registry
from backend.certification import reviews
from backend.certification.runs import certify
from backend.reconcile import reconcile
from tests.integration.certification.seed import Seeded
from tests.integration.certification.test_runs import NOV
from tests.integration.reconcile.data import actions, certified_history, settled


async def test_reviews_transfers_and_retirements_all_reconcile(platform):
    await certified_history(platform)  # holds a flagged action: flagged-1 of c_0001
    await settled(platform, [Seeded("transit_st", "flagged-2", "c_0003", NOV, 7000, 700, flagged=True)])
    await reviews.decide(platform.db, "transit_st", "flagged-1", "approved", reviewer="admin:test")
    await reviews.decide(platform.db, "transit_st", "flagged-2", "rejected", reviewer="admin:test")
    late = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    assert late.tree_size == 1

    await settled(platform, actions(30, start=1600, book="nanao"))
    nanao = await certify(platform.db, "nanao", "2026-11", actor="admin:test")
    assert nanao.serial is not None and nanao.tonnes >= 3
    await registry.create_buyer(platform.db, "buyer-co", "Buyer Co.", "admin:test")
    moved = await registry.transfer(platform.db, nanao.serial, "nanao-pilot", "admin:test", 2, 2)
    await registry.retire(platform.db, moved.piece.serial, "Nan'ao pilot", "neutrality 2026", "admin:test")
    [first] = [p for p in moved.pieces if p.first == 1]
    await registry.transfer(platform.db, first.serial, "buyer-co", "admin:test")
    [rest] = [p for p in moved.pieces if p.first == 3]
    await registry.retire(platform.db, rest.serial, "Buyer Co.", "offset", "admin:test", 3, 3)

    report = await reconcile(platform.db)
    assert report.ok, [f"{f.check} {f.code} {f.subject}: {f.detail}" for f in report.findings]
