"""/v1/admin/pilot/targets…: administrators set the Nan'ao pilot's annual target in whole tonnes, each
change audited with what it replaced; auditors and admins list them; nobody else can do either."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.context import Platform
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import make_partner

TARGETS = "/v1/admin/pilot/targets"
LOG = "/v1/audit/log"


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform)


async def put(http: httpx.AsyncClient, year: Any, body: Any, headers: dict[str, str]) -> httpx.Response:
    return await http.put(f"{TARGETS}/{year}", json=body, headers=headers)


async def audit_events(http: httpx.AsyncClient, platform: Platform) -> list[dict[str, Any]]:
    response = await http.get(LOG, headers=bearer(platform, "auditor"))
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["action"] == "pilot.target-set"]


class TestSetTarget:
    async def test_an_admin_sets_a_target_then_replaces_it_and_each_change_is_audited(
        self, http, admin, platform
    ):
        # when
        first = await put(http, 2026, {"target_t": 1200}, admin)
        second = await put(http, 2026, {"target_t": 1500}, admin)
        # then
        assert first.status_code == 200, first.text
        doc = second.json()
        assert {k: doc[k] for k in ("book", "year", "target_t", "set_by")} == {
            "book": "nanao",
            "year": 2026,
            "target_t": 1500,
            "set_by": "op_admin",
        }
        assert doc["set_at"].endswith("Z") or doc["set_at"].endswith("+00:00")
        events = await audit_events(http, platform)
        assert [(e["actor"], e["subject"], e["details"]) for e in events] == [
            ("op_admin", "pilot:nanao:2026", {"year": 2026, "target_t": 1200, "previous": None}),
            ("op_admin", "pilot:nanao:2026", {"year": 2026, "target_t": 1500, "previous": 1200}),
        ]

    async def test_setting_the_same_target_again_changes_and_logs_nothing(self, http, admin, platform):
        first = (await put(http, 2026, {"target_t": 1200}, admin)).json()
        again = await put(http, 2026, {"target_t": 1200}, admin)
        assert again.status_code == 200 and again.json() == first
        assert len(await audit_events(http, platform)) == 1

    @pytest.mark.parametrize(
        ("year", "body"),
        [
            (2026, {"target_t": 0}),
            (2026, {"target_t": -3}),
            (2026, {"target_t": 12.5}),
            (2026, {"target_t": 12.0}),
            (2026, {"target_t": "12"}),
            (2026, {"target_t": True}),
            (2026, {"target_t": None}),
            (2026, {"target_t": [12]}),
            (2026, {"target_t": 100_000_001}),
            (2026, {"target_t": 10**40}),
            (1999, {"target_t": 12}),
            (9999, {"target_t": 12}),
            (-2026, {"target_t": 12}),
        ],
        ids=lambda v: repr(v),
    )
    async def test_a_target_that_is_not_whole_positive_tonnes_for_a_year_is_refused(
        self, http, admin, platform, year, body
    ):
        assert_problem(await put(http, year, body, admin), 422, "invalid-target")
        assert await count_rows(platform, "pilot_targets") == 0
        assert await count_rows(platform, "audit_log") == 0

    @pytest.mark.parametrize(
        ("year", "body"),
        [("20x6", {"target_t": 12}), (2026, {}), (2026, {"target_t": 12, "unit": "kt"}), (2026, [12])],
        ids=["a year that is no number", "no target", "an extra field", "a list"],
    )
    async def test_a_body_of_another_shape_is_an_invalid_request(self, http, admin, platform, year, body):
        assert_problem(await put(http, year, body, admin), 422, "invalid-request")
        assert await count_rows(platform, "pilot_targets") == 0

    async def test_a_body_that_is_not_json_is_malformed(self, http, admin, platform):
        headers = {**admin, "content-type": "application/json"}
        response = await http.put(f"{TARGETS}/2026", content=b"{target_t: 12", headers=headers)
        assert_problem(response, 400, "malformed-json")
        assert await count_rows(platform, "pilot_targets") == 0


class TestListTargets:
    @pytest.mark.parametrize("role", ["admin", "auditor"])
    async def test_admins_and_auditors_see_every_year_in_order(self, http, admin, platform, role):
        for year, tonnes in ((2027, 1800), (2026, 1500), (2025, 900)):
            assert (await put(http, year, {"target_t": tonnes}, admin)).status_code == 200
        response = await http.get(TARGETS, headers=bearer(platform, role))
        assert response.status_code == 200
        assert [(t["year"], t["target_t"]) for t in response.json()] == [
            (2025, 900),
            (2026, 1500),
            (2027, 1800),
        ]

    async def test_no_target_is_an_empty_list(self, http, admin):
        response = await http.get(TARGETS, headers=admin)
        assert response.status_code == 200 and response.json() == []


REFUSED_READ = [c for c in CALLERS if c[0] != "an auditor token"]


class TestAuthorisation:
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_an_admin_may_set_a_target(self, http, admin, platform, caller, headers, status, code):
        # given
        await put(http, 2026, {"target_t": 1200}, admin)
        # when
        response = await put(http, 2026, {"target_t": 1}, headers(platform))
        # then
        assert_problem(response, status, code)
        [target] = (await http.get(TARGETS, headers=admin)).json()
        assert target["target_t"] == 1200
        assert await count_rows(platform, "audit_log") == 1

    @pytest.mark.parametrize(
        ("caller", "headers", "status", "code"), REFUSED_READ, ids=[c[0] for c in REFUSED_READ]
    )
    async def test_only_admins_and_auditors_may_list_targets(
        self, http, platform, caller, headers, status, code
    ):
        assert_problem(await http.get(TARGETS, headers=headers(platform)), status, code)

    @pytest.mark.parametrize(("method", "path"), [("GET", TARGETS), ("PUT", f"{TARGETS}/2026")])
    async def test_a_correctly_signed_partner_request_is_not_a_bearer_token(
        self, http, platform, method, path
    ):
        creds = await make_partner(platform, "transit_st")
        assert_problem(await signed(http, creds, method, path, b'{"target_t": 5}'), 401, "invalid-token")
        assert await count_rows(platform, "pilot_targets") == 0
