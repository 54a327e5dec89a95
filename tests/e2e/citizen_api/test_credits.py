"""GET /v1/citizen/credits and /credits/{partner_id}/{event_id}/proof: the citizen's certified
actions with their run's serial ranges, and a proof that verifies offline, for their own actions only."""

from __future__ import annotations

import pytest

from partners.sdk import verify_proof
from tests.e2e.citizen_api.conftest import World, citizen_headers
from tests.e2e.partner_api.test_signing import assert_problem

CREDITS = "/v1/citizen/credits"


def keys_newest_first(world: World, citizen_id: str) -> list[tuple[str, str]]:
    ordered = sorted(world.certified(citizen_id), key=lambda i: (i.partner_id, i.event_id))
    ordered.sort(key=lambda i: i.occurred_at, reverse=True)
    return [(i.partner_id, i.event_id) for i in ordered]


class TestCredits:
    async def test_credits_are_the_citizens_certified_actions_with_the_runs_ranges(
        self, http, platform, world
    ):
        for citizen in (world.alice, world.bob):
            response = await http.get(f"{CREDITS}?limit=100", headers=citizen_headers(platform, citizen))
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["next"] is None
            assert [(c["partner_id"], c["event_id"]) for c in page["items"]] == keys_newest_first(
                world, citizen
            )
            by_key = {(i.partner_id, i.event_id): i for i in world.items}
            for credit in page["items"]:
                seeded = by_key[credit["partner_id"], credit["event_id"]]
                assert seeded.citizen_id == citizen
                assert (credit["reduction_g"], credit["points"], credit["book"]) == (
                    seeded.reduction_g,
                    seeded.points,
                    "shantou",
                )
                assert credit["run_id"] == world.run.run_id
                assert credit["ranges"] == [
                    {"serial": world.run.serial, "first": 1, "last": world.run.tonnes, "status": "active"}
                ]

    async def test_pages_of_credits_follow_each_other(self, http, platform, world):
        headers = citizen_headers(platform, world.alice)
        keys, after = [], ""
        while True:
            page = (await http.get(f"{CREDITS}?limit=3{after}", headers=headers)).json()
            keys += [(c["partner_id"], c["event_id"]) for c in page["items"]]
            if page["next"] is None:
                break
            after = f"&after={page['next']}"
        assert keys == keys_newest_first(world, world.alice)

    async def test_a_citizen_with_nothing_certified_has_no_credits(self, http, platform, world):
        response = await http.get(CREDITS, headers=citizen_headers(platform, "c_nobody"))
        assert response.json() == {"items": [], "next": None}

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "after=%%%"])
    async def test_a_bad_query_is_an_invalid_request(self, http, platform, world, query):
        response = await http.get(f"{CREDITS}?{query}", headers=citizen_headers(platform, world.alice))
        assert_problem(response, 422, "invalid-request")


class TestProof:
    async def test_every_own_certified_action_has_a_proof_that_verifies_offline(self, http, platform, world):
        headers = citizen_headers(platform, world.alice)
        for item in world.certified(world.alice):
            response = await http.get(f"{CREDITS}/{item.partner_id}/{item.event_id}/proof", headers=headers)
            assert response.status_code == 200, response.text
            leaf = verify_proof(response.json(), world.run.root, published_tree_size=world.run.tree_size)
            assert (leaf.event_id, leaf.reduction_g) == (item.event_id, item.reduction_g)
            assert response.json()["leaf"].encode() == item.leaf()

    async def test_another_citizens_action_is_not_found_exactly_like_a_missing_one(
        self, http, platform, world
    ):
        headers = citizen_headers(platform, world.alice)
        bobs = f"{CREDITS}/transit_st/b-000/proof"
        missing = f"{CREDITS}/transit_st/nope/proof"
        theirs = assert_problem(await http.get(bobs, headers=headers), 404, "action-not-found")
        nothing = assert_problem(await http.get(missing, headers=headers), 404, "action-not-found")
        assert theirs["detail"].replace("b-000", "nope") == nothing["detail"]
        assert world.bob not in str(theirs)
        # the owner does get it
        own = await http.get(bobs, headers=citizen_headers(platform, world.bob))
        assert own.status_code == 200

    @pytest.mark.parametrize(
        "event_id",
        ["a-013", "a-014", "a-015", "a-017", "a-900"],
        ids=["october", "flagged", "rejected", "nanao", "late"],
    )
    async def test_an_own_uncertified_action_has_no_proof(self, http, platform, world, event_id):
        response = await http.get(
            f"{CREDITS}/transit_st/{event_id}/proof", headers=citizen_headers(platform, world.alice)
        )
        assert_problem(response, 404, "action-not-certified")

    async def test_a_malformed_event_id_is_an_invalid_request(self, http, platform, world):
        response = await http.get(
            f"{CREDITS}/transit_st/bad%20id/proof", headers=citizen_headers(platform, world.alice)
        )
        assert_problem(response, 422, "invalid-request")
