"""GET /v1/citizen/me and /v1/citizen/balances: the token's own citizen, their partners and consent,
and their points, never anyone else's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from backend.models import Binding, Citizen
from tests.e2e.citizen_api.conftest import citizen_headers
from tests.e2e.partner_api.test_signing import assert_problem
from tests.factories import make_partner, mobile, sdk

ME = "/v1/citizen/me"
BALANCES = "/v1/citizen/balances"


class TestMe:
    async def test_the_citizen_sees_themselves_and_each_partner_they_are_bound_to(
        self, http, platform, world
    ):
        response = await http.get(ME, headers=citizen_headers(platform, world.alice))
        assert response.status_code == 200, response.text
        me = response.json()
        async with platform.db.read() as conn:
            created = (
                await conn.execute(select(Citizen.created_at).where(Citizen.citizen_id == world.alice))
            ).scalar_one()
            bound = dict(
                (
                    await conn.execute(
                        select(Binding.partner_id, Binding.created_at).where(
                            Binding.citizen_id == world.alice
                        )
                    )
                ).all()
            )
        assert me["citizen_id"] == world.alice
        assert datetime.fromisoformat(me["created_at"]) == created
        assert [(p["partner_id"], datetime.fromisoformat(p["bound_at"])) for p in me["partners"]] == sorted(
            bound.items()
        )
        assert {(p["consent"], p["withdrawn_at"]) for p in me["partners"]} == {("given", None)}
        assert set(me) == {"citizen_id", "created_at", "partners"}
        assert mobile(1)[1:] not in response.text and "wx_alice" not in response.text
        assert "bk_alice" not in response.text and world.bob not in response.text

    async def test_another_citizen_sees_only_their_own_partner(self, http, platform, world):
        me = (await http.get(ME, headers=citizen_headers(platform, world.bob))).json()
        assert me["citizen_id"] == world.bob
        assert [p["partner_id"] for p in me["partners"]] == ["transit_st"]

    async def test_a_withdrawn_consent_shows_when_it_was_withdrawn(self, http, platform, world):
        # given
        withdrawn = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        async with platform.db.transaction() as tx:
            await tx.conn.execute(
                update(Binding)
                .where(Binding.partner_id == "bike_st", Binding.citizen_id == world.alice)
                .values(consent_withdrawn_at=withdrawn)
            )
        # when
        me = (await http.get(ME, headers=citizen_headers(platform, world.alice))).json()
        # then
        consent = {p["partner_id"]: (p["consent"], p["withdrawn_at"]) for p in me["partners"]}
        assert consent == {"bike_st": ("withdrawn", "2026-11-20T08:00:00Z"), "transit_st": ("given", None)}

    async def test_a_token_minted_by_the_partner_endpoint_reads_the_same_citizen(
        self, http, platform, app, world
    ):
        creds = await make_partner(platform, "canteen_st")
        async with sdk(app, creds) as canteen:
            await canteen.bind("cn_bob", mobile(2))
            token = (await canteen.citizen_token("cn_bob")).access_token
        me = (await http.get(ME, headers={"authorization": f"Bearer {token}"})).json()
        assert me["citizen_id"] == world.bob
        assert [p["partner_id"] for p in me["partners"]] == ["canteen_st", "transit_st"]

    async def test_a_token_of_no_known_citizen_finds_nothing(self, http, platform, world):
        assert_problem(await http.get(ME, headers=citizen_headers(platform, "c_nobody")), 404, "not-found")


class TestBalances:
    async def test_balances_are_the_citizens_own_points_by_state(self, http, platform, world):
        for citizen in (world.alice, world.bob):
            # then: certified points are available, every other settled point still pending
            booked = sum(i.points for i in world.of(citizen) if i.points > 0)
            available = sum(i.points for i in world.certified(citizen))
            response = await http.get(BALANCES, headers=citizen_headers(platform, citizen))
            assert response.status_code == 200, response.text
            # (the points arrived now: nothing expires for 24 months)
            assert response.json() == {
                "pending": booked - available, "available": available, "held": 0, "expiring": 0,
                "next_expiry": None,
            }  # fmt: skip

    async def test_a_citizen_with_no_postings_has_zero_everywhere(self, http, platform, world):
        response = await http.get(BALANCES, headers=citizen_headers(platform, "c_nobody"))
        assert response.json() == {
            "pending": 0,
            "available": 0,
            "held": 0,
            "expiring": 0,
            "next_expiry": None,
        }
