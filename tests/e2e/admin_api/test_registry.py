"""/v1/admin/registry…: administrators open buyer accounts, transfer and retire credits; every
other caller is refused, and a refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from backend import audit
from points_engine.certification import serial
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem
from tests.integration.registry.factories import assert_tiles, issue_run, snapshot

ACCOUNTS = "/v1/admin/registry/accounts"
TRANSFERS = "/v1/admin/registry/transfers"
RETIREMENTS = "/v1/admin/registry/retirements"
NEW_BUYER = {"account_id": "acme-corp", "name": "Acme 汕头"}


def nanao(first: int, last: int) -> str:
    return serial("nanao", 2026, 1, first, last)


@pytest.fixture
def admin(platform) -> dict[str, str]:
    return bearer(platform)


@pytest.fixture
async def run(platform):
    """Nan'ao run 1: tonnes 1-10 held by the book's account."""
    return await issue_run(platform, tonnes=10)


class TestAccounts:
    async def test_an_admin_opens_a_buyer_account_and_lists_every_account(self, http, admin, platform, run):
        response = await http.post(ACCOUNTS, json=NEW_BUYER, headers=admin)

        assert response.status_code == 201, response.text
        created = response.json()
        assert {k: created[k] for k in ("account_id", "kind", "name", "book", "holdings")} == {
            "account_id": "acme-corp",
            "kind": "buyer",
            "name": "Acme 汕头",
            "book": None,
            "holdings": [],
        }
        listed = (await http.get(ACCOUNTS, headers=admin)).json()
        assert [a["account_id"] for a in listed] == ["acme-corp", "nanao", "nanao-pilot", "shantou"]
        assert listed[1]["holdings"] == [{"book": "nanao", "active_t": 10, "retired_t": 0}]

    @pytest.mark.parametrize("taken", ["acme-corp", "nanao-pilot"])
    async def test_an_id_taken_already_is_a_conflict(self, http, admin, platform, run, taken):
        await http.post(ACCOUNTS, json=NEW_BUYER, headers=admin)
        before = await snapshot(platform)
        response = await http.post(ACCOUNTS, json={"account_id": taken, "name": "again"}, headers=admin)
        assert_problem(response, 409, "account-exists")
        assert await snapshot(platform) == before

    @pytest.mark.parametrize(
        "body",
        [
            {"account_id": "AC", "name": "x"},
            {"account_id": "acme-corp", "name": ""},
            {"account_id": "acme-corp", "name": "a\u0000b"},
            {"account_id": "acme-corp"},
            {**NEW_BUYER, "book": "nanao"},
            {"account_id": 12345, "name": "x"},
        ],
    )
    async def test_a_bad_account_is_refused(self, http, admin, platform, run, body):
        before = await snapshot(platform)
        assert_problem(await http.post(ACCOUNTS, json=body, headers=admin), 422, "invalid-request")
        assert await snapshot(platform) == before


class TestTransfers:
    async def test_an_admin_transfers_part_of_a_piece_and_gets_the_pieces_it_left(
        self, http, admin, platform, run
    ):
        await http.post(ACCOUNTS, json=NEW_BUYER, headers=admin)

        body = {"serial": run.serial, "to_account": "acme-corp", "first": 3, "last": 5}
        response = await http.post(TRANSFERS, json=body, headers=admin)

        assert response.status_code == 201, response.text
        result = response.json()
        assert result["serial"] == run.serial
        assert (result["piece"]["serial"], result["piece"]["account_id"], result["piece"]["tonnes"]) == (
            nanao(3, 5),
            "acme-corp",
            3,
        )
        assert [(p["serial"], p["account_id"]) for p in result["pieces"]] == [
            (nanao(1, 2), "nanao"),
            (nanao(3, 5), "acme-corp"),
            (nanao(6, 10), "nanao"),
        ]
        await assert_tiles(platform, run)
        event = (await audit.page(platform.db, 0, 100))[-1].event
        assert (event.actor, event.action, event.subject) == (
            "op_admin",
            "registry.transfer",
            f"range:{run.serial}",
        )

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"serial": nanao(1, 9), "to_account": "acme-corp"}, 404, "unknown-range"),
            ({"serial": "not-a-serial", "to_account": "acme-corp"}, 404, "unknown-range"),
            ({"to_account": "ghost-buyer"}, 404, "unknown-account"),
            ({"to_account": "shantou"}, 409, "cross-book"),
            ({"to_account": "nanao"}, 422, "invalid-request"),
            ({"first": 8, "last": 11}, 422, "tonnes-outside-range"),
            ({"first": 0}, 422, "invalid-request"),
            ({"first": "3"}, 422, "invalid-request"),
            ({"last": True}, 422, "invalid-request"),
            ({"first": 2.0}, 422, "invalid-request"),
            ({"holder": "nanao"}, 422, "invalid-request"),
            ({"serial": None}, 422, "invalid-request"),
        ],
    )
    async def test_a_refused_transfer_changes_nothing(self, http, admin, platform, run, body, status, code):
        await http.post(ACCOUNTS, json=NEW_BUYER, headers=admin)
        before = await snapshot(platform)
        payload = {"serial": run.serial, "to_account": "acme-corp", **body}
        assert_problem(await http.post(TRANSFERS, json=payload, headers=admin), status, code)
        assert await snapshot(platform) == before

    async def test_a_split_piece_no_longer_moves(self, http, admin, platform, run):
        await http.post(ACCOUNTS, json=NEW_BUYER, headers=admin)
        await http.post(
            TRANSFERS, json={"serial": run.serial, "to_account": "acme-corp", "last": 1}, headers=admin
        )
        before = await snapshot(platform)
        response = await http.post(
            TRANSFERS, json={"serial": run.serial, "to_account": "acme-corp"}, headers=admin
        )
        assert_problem(response, 409, "range-not-active")
        assert await snapshot(platform) == before

    async def test_a_body_that_is_not_json_is_malformed(self, http, admin, platform, run):
        headers = {**admin, "content-type": "application/json"}
        assert_problem(
            await http.post(TRANSFERS, content=b"{serial:", headers=headers), 400, "malformed-json"
        )


class TestRetirements:
    async def test_an_admin_retires_a_whole_piece_for_a_beneficiary(self, http, admin, platform, run):
        body = {"serial": run.serial, "beneficiary": "南澳县", "purpose": "carbon-neutral pilot 2026"}
        response = await http.post(RETIREMENTS, json=body, headers=admin)

        assert response.status_code == 201, response.text
        piece = response.json()["piece"]
        assert (piece["serial"], piece["status"], piece["beneficiary"]) == (run.serial, "retired", "南澳县")
        assert piece["retired_at"] is not None
        again = await http.post(RETIREMENTS, json=body, headers=admin)
        assert_problem(again, 409, "range-not-active")

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"beneficiary": ""}, "invalid-request"),
            ({"purpose": "x" * 201}, "invalid-request"),
            ({"beneficiary": "tab\there"}, "invalid-request"),
            ({"purpose": "\u0000"}, "invalid-request"),
            ({"beneficiary": None}, "invalid-request"),
            ({"first": 5, "last": 4}, "tonnes-outside-range"),
        ],
    )
    async def test_a_refused_retirement_changes_nothing(self, http, admin, platform, run, body, code):
        before = await snapshot(platform)
        payload = {"serial": run.serial, "beneficiary": "b", "purpose": "p", **body}
        assert_problem(await http.post(RETIREMENTS, json=payload, headers=admin), 422, code)
        assert await snapshot(platform) == before


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", ACCOUNTS, None),
    ("POST", ACCOUNTS, NEW_BUYER),
    ("POST", TRANSFERS, {"serial": nanao(1, 10), "to_account": "nanao-pilot"}),
    ("POST", RETIREMENTS, {"serial": nanao(1, 10), "beneficiary": "b", "purpose": "p"}),
]


class TestAuthorisation:
    @pytest.mark.parametrize(("method", "path", "payload"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_an_admin_may_manage_the_registry(
        self, http, platform, run, method, path, payload, caller, headers, status, code
    ):
        # given
        before = await snapshot(platform)
        # when
        response = await http.request(method, path, json=payload, headers=headers(platform))
        # then
        assert_problem(response, status, code)
        assert await snapshot(platform) == before
