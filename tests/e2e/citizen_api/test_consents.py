"""POST /v1/citizen/consents/{partner_id}/withdraw|grant: a citizen's consent per partner, which
intake and the partner's citizen tokens obey."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from backend.models import AuditRecord, Binding
from partners.sdk import ApiError, AsyncTanhuiClient
from tests.e2e.citizen_api.conftest import citizen_headers
from tests.e2e.citizen_api.test_authorisation import CALLERS
from tests.e2e.partner_api.test_signing import assert_problem
from tests.factories import make_partner, mobile, sdk, trip

ME = "/v1/citizen/me"


def withdraw(partner_id: str) -> str:
    return f"/v1/citizen/consents/{partner_id}/withdraw"


def grant(partner_id: str) -> str:
    return f"/v1/citizen/consents/{partner_id}/grant"


@dataclass(frozen=True)
class Bound:
    transit: AsyncTanhuiClient
    bike: AsyncTanhuiClient
    alice: str  # wx_alice at transit, bk_alice at bike
    bob: str  # wx_bob at transit
    carol: str  # bk_carol at bike


@pytest.fixture
async def bound(platform, app) -> AsyncIterator[Bound]:  # type: ignore[no-untyped-def]
    transit_creds = await make_partner(platform, "transit_st")
    bike_creds = await make_partner(platform, "bike_st")
    async with sdk(app, transit_creds) as transit, sdk(app, bike_creds) as bike:
        alice = (await transit.bind("wx_alice", mobile(1))).citizen_id
        bob = (await transit.bind("wx_bob", mobile(2))).citizen_id
        await bike.bind("bk_alice", mobile(1))
        carol = (await bike.bind("bk_carol", mobile(3))).citizen_id
        yield Bound(transit, bike, alice, bob, carol)


async def bindings(platform) -> set[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(Binding.partner_id, Binding.user, Binding.citizen_id, Binding.consent_withdrawn_at)
        )
        return {tuple(r) for r in rows}


async def audit_rows(platform) -> list[Any]:  # type: ignore[no-untyped-def]
    """The audit log's records of citizens' own actions (creating the partners logged others)."""
    async with platform.db.read() as conn:
        rows = await conn.execute(select(AuditRecord).order_by(AuditRecord.seq))  # type: ignore[arg-type]
        return [r for r in rows if r.action.startswith("citizen.")]


def statuses(result: Any) -> dict[str, str]:
    return {
        r.event_id: r.status if r.problem is None else r.problem["type"].rsplit("/", 1)[1]
        for r in result.results
    }


class TestWithdrawConsent:
    async def test_withdrawal_stops_that_partners_intake_for_the_citizen_and_nothing_else(
        self, http, platform, bound
    ):
        """Intake refuses, item by item, the actions of the citizen's user at the partner withdrawn
        from; the same citizen at another partner, and other citizens at that partner, pass."""
        # when
        response = await http.post(withdraw("bike_st"), headers=citizen_headers(platform, bound.alice))
        # then
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["partner_id"], body["consent"]) == ("bike_st", "withdrawn")
        assert datetime.fromisoformat(body["withdrawn_at"]) and set(body) == {
            "partner_id",
            "bound_at",
            "consent",
            "withdrawn_at",
        }
        by_bike = await bound.bike.report(
            [
                trip("bk_alice", event_id="bk-1"),
                trip("bk_carol", event_id="bk-2"),
                trip("bk_alice", event_id="bk-3"),
            ]
        )
        assert statuses(by_bike) == {
            "bk-1": "consent-withdrawn",
            "bk-2": "accepted",
            "bk-3": "consent-withdrawn",
        }
        refused = by_bike.results[0].problem
        assert refused is not None and refused["status"] == 403
        by_transit = await bound.transit.report([trip("wx_alice", event_id="tr-1")])
        assert statuses(by_transit) == {"tr-1": "accepted"}

    async def test_after_withdrawal_the_partner_can_no_longer_sign_the_citizen_in(
        self, http, platform, bound
    ):
        await http.post(withdraw("bike_st"), headers=citizen_headers(platform, bound.alice))
        with pytest.raises(ApiError) as err:
            await bound.bike.citizen_token("bk_alice")
        assert (err.value.status, err.value.problem["type"]) == (
            422,
            "https://tanhui.example/problems/unbound-user",
        )
        token = (await bound.transit.citizen_token("wx_alice")).access_token
        me = await http.get(ME, headers={"authorization": f"Bearer {token}"})
        assert me.json()["citizen_id"] == bound.alice

    async def test_withdrawal_touches_only_the_callers_bindings_at_that_partner(self, http, platform, bound):
        before = await bindings(platform)
        await http.post(withdraw("transit_st"), headers=citizen_headers(platform, bound.alice))
        after = await bindings(platform)
        withdrawn = {r for r in after if r[3] is not None}
        assert {r[:3] for r in withdrawn} == {("transit_st", "wx_alice", bound.alice)}
        assert after - withdrawn == {r for r in before if r[:2] != ("transit_st", "wx_alice")}

    async def test_withdrawing_twice_keeps_the_first_time_and_logs_once(self, http, platform, bound):
        headers = citizen_headers(platform, bound.alice)
        first = (await http.post(withdraw("bike_st"), headers=headers)).json()
        second = await http.post(withdraw("bike_st"), headers=headers)
        assert second.status_code == 200 and second.json() == first
        logged = await audit_rows(platform)
        assert [(r.action, r.actor, r.subject, r.details) for r in logged] == [
            (
                "citizen.consent-withdrawn",
                f"citizen:{bound.alice}",
                f"citizen:{bound.alice}",
                {"partner_id": "bike_st", "bindings": 1},
            )
        ]

    async def test_the_audit_record_names_no_mobile_and_no_partner_user_id(self, http, platform, bound):
        await http.post(withdraw("bike_st"), headers=citizen_headers(platform, bound.alice))
        text = repr([tuple(r) for r in await audit_rows(platform)])
        assert "bk_alice" not in text and mobile(1)[1:] not in text

    @pytest.mark.parametrize(
        ("partner_id", "status", "code"),
        [
            ("canteen_st", 404, "not-found"),  # no such partner
            ("bike_st", 404, "not-found"),  # Bob is not bound there
            ("Bike-St", 422, "invalid-request"),  # not a partner id
        ],
    )
    async def test_a_partner_the_citizen_is_not_bound_to_is_refused_and_nothing_changes(
        self, http, platform, bound, partner_id, status, code
    ):
        before = await bindings(platform)
        response = await http.post(withdraw(partner_id), headers=citizen_headers(platform, bound.bob))
        assert_problem(response, status, code)
        assert await bindings(platform) == before and await audit_rows(platform) == []

    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    @pytest.mark.parametrize("route", [withdraw, grant])
    async def test_only_a_citizen_token_changes_a_consent(
        self, http, platform, bound, route, caller, headers, status, code
    ):
        before = await bindings(platform)
        assert_problem(
            await http.post(route("bike_st"), headers=headers(platform, bound.alice)), status, code
        )
        assert await bindings(platform) == before


class TestGrantConsent:
    async def test_granting_again_resumes_intake_and_sign_in(self, http, platform, bound):
        headers = citizen_headers(platform, bound.alice)
        await http.post(withdraw("bike_st"), headers=headers)
        # when
        response = await http.post(grant("bike_st"), headers=headers)
        # then
        assert response.status_code == 200, response.text
        assert (response.json()["consent"], response.json()["withdrawn_at"]) == ("given", None)
        assert statuses(await bound.bike.report([trip("bk_alice", event_id="bk-9")])) == {"bk-9": "accepted"}
        assert (await bound.bike.citizen_token("bk_alice")).access_token
        logged = [r.action for r in await audit_rows(platform)]
        assert logged == ["citizen.consent-withdrawn", "citizen.consent-granted"]

    async def test_granting_a_consent_that_was_never_withdrawn_changes_nothing(self, http, platform, bound):
        before = await bindings(platform)
        response = await http.post(grant("bike_st"), headers=citizen_headers(platform, bound.alice))
        assert response.status_code == 200 and response.json()["consent"] == "given"
        assert await bindings(platform) == before and await audit_rows(platform) == []
