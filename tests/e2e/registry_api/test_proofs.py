"""GET /v1/registry/proofs/{partner_id}/{event_id}: anyone, without a token, gets the RFC 6962
proof of a certified action, and the partners' offline verifier accepts it against the root the
run published; uncertified and unknown actions get a clear 404."""

from __future__ import annotations

import random

from backend.certification.runs import certify
from partners.sdk import ProofError, verify_proof
from tests.e2e.partner_api.test_signing import assert_problem
from tests.integration.certification.seed import Seeded, expected_root, seed
from tests.integration.certification.test_runs import NOV, actions

PROOFS = "/v1/registry/proofs"


async def test_every_sampled_action_of_a_multi_chunk_run_has_a_proof_that_verifies_offline(http, platform):
    # given: 2,600 actions, so the run has two full chunks of 1,024 leaves and a partial third
    items = actions(2600, grams=900, step=9)
    await seed(platform, items)
    run = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    ordered = sorted(items, key=lambda i: (i.partner_id, i.event_id))
    assert (run.root, run.tree_size) == expected_root(items)
    picks = {0, 1, 1023, 1024, 1025, 2047, 2048, 2599, *random.Random(3).sample(range(2600), 12)}
    for index in sorted(picks):
        item = ordered[index]
        # when
        response = await http.get(f"{PROOFS}/{item.partner_id}/{item.event_id}")
        # then
        assert response.status_code == 200, response.text
        proof = response.json()
        leaf = verify_proof(proof, run.root, published_tree_size=run.tree_size)
        assert (leaf.leaf_index, leaf.event_id, leaf.reduction_g) == (index, item.event_id, item.reduction_g)
        assert proof["leaf"].encode() == item.leaf()


async def test_a_proof_does_not_verify_for_another_leaf_or_root(http, platform):
    await seed(platform, actions(40, grams=900))
    run = await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    proof = (await http.get(f"{PROOFS}/transit_st/ev-000003")).json()
    forged = {**proof, "leaf": proof["leaf"].replace('"reduction_g":', '"reduction_g":1')}
    for bad, root in ((forged, run.root), (proof, "00" * 32)):
        try:
            verify_proof(bad, root, published_tree_size=run.tree_size)
        except ProofError:
            continue
        raise AssertionError("a forged proof verified")


async def test_uncertified_flagged_and_unknown_actions_have_no_proof(http, platform):
    await seed(
        platform, [*actions(5), Seeded("transit_st", "flagged-1", "c_0001", NOV, 5000, 500, flagged=True)]
    )
    await certify(platform.db, "shantou", "2026-11", actor="admin:test")
    await seed(platform, actions(2, start=100))  # settled after the run: not certified yet
    for path in (
        "transit_st/flagged-1",
        "transit_st/ev-000100",
        "transit_st/nope",
        "ghost_partner/ev-000001",
    ):
        assert_problem(await http.get(f"{PROOFS}/{path}"), 404, "action-not-certified")
    assert_problem(await http.get(f"{PROOFS}/transit_st/bad%20id"), 422, "invalid-request")
