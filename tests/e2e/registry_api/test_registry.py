"""/v1/registry…: anyone, without a token, reads the certification runs with the roots their proofs
are checked against, every piece of every serial range with its holder and history, and what each
account holds. Nothing here changes anything."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.registry import create_buyer, retire, transfer
from points_engine.certification import serial
from tests.e2e.partner_api.test_signing import assert_problem
from tests.integration.registry.factories import issue_run

RUNS = "/v1/registry/runs"
RANGES = "/v1/registry/ranges"


def nanao(first: int, last: int, run: int = 1) -> str:
    return serial("nanao", 2026, run, first, last)


def assert_utc(text: str) -> None:
    assert datetime.fromisoformat(text).utcoffset() == timedelta(0), text


@pytest.fixture
async def registry(platform):
    """Nan'ao run 1 (10 t): 1-3 sold to acme-corp, 4 retired for the pilot, 5-10 with the book;
    Nan'ao run 2 (2 t) and Shantou run 1 (4 t) untouched."""
    first = await issue_run(platform, tonnes=10)
    await issue_run(platform, tonnes=2)
    await issue_run(platform, book="shantou", tonnes=4)
    await create_buyer(platform.db, "acme-corp", "Acme", actor="op_admin")
    await transfer(platform.db, first.serial, "acme-corp", "op_admin", first=1, last=3)
    await transfer(platform.db, nanao(4, 10), "nanao-pilot", "op_admin", first=4, last=4)
    await retire(platform.db, nanao(4, 4), "Nan'ao county", "carbon-neutral pilot 2026", "op_admin")
    return first


class TestRuns:
    async def test_a_run_is_published_with_its_root_its_size_and_its_pieces(self, http, registry):
        response = await http.get(f"{RUNS}/{registry.run_id}")

        assert response.status_code == 200, response.text
        run = response.json()
        assert {k: run[k] for k in ("run_id", "book", "period", "root", "tree_size", "tonnes", "serial")} == {
            "run_id": "run_nanao_2026-11_000001",
            "book": "nanao",
            "period": "2026-11",
            "root": registry.root,
            "tree_size": 20,
            "tonnes": 10,
            "serial": nanao(1, 10),
        }
        assert (run["active_t"], run["retired_t"]) == (9, 1)
        assert [(p["serial"], p["account_id"], p["status"]) for p in run["pieces"]] == [
            (nanao(1, 3), "acme-corp", "active"),
            (nanao(4, 4), "nanao-pilot", "retired"),
            (nanao(5, 10), "nanao", "active"),
        ]
        retired = run["pieces"][1]
        assert (retired["beneficiary"], retired["purpose"]) == ("Nan'ao county", "carbon-neutral pilot 2026")
        assert_utc(retired["retired_at"])
        assert_utc(run["issued_at"])
        for key in ("tree_size", "reduction_g", "carry_in_g", "carry_out_g", "tonnes", "number", "vintage"):
            assert type(run[key]) is int, key
        assert run["reduction_g"] == 10_000_000

    async def test_runs_are_listed_by_book_and_period_a_page_at_a_time(self, http, registry):
        everything = (await http.get(RUNS)).json()
        assert [r["run_id"] for r in everything["items"]] == [
            "run_nanao_2026-11_000001",
            "run_nanao_2026-11_000002",
            "run_shantou_2026-11_000001",
        ]
        assert everything["next_after"] is None
        assert "pieces" not in everything["items"][0] and everything["items"][0]["root"] == registry.root

        seen, after = [], None
        while True:
            page = (await http.get(RUNS, params={"limit": 2} | ({"after": after} if after else {}))).json()
            seen += [r["run_id"] for r in page["items"]]
            if (after := page["next_after"]) is None:
                break
        assert seen == [r["run_id"] for r in everything["items"]]

        shantou = (await http.get(RUNS, params={"book": "shantou", "period": "2026-11"})).json()
        assert [r["run_id"] for r in shantou["items"]] == ["run_shantou_2026-11_000001"]
        assert (await http.get(RUNS, params={"period": "2026-10"})).json() == {
            "items": [],
            "next_after": None,
        }

    @pytest.mark.parametrize("run_id", ["run_nanao_2026-11_000009", "run_x", "bad%00id", "a" * 300])
    async def test_an_unknown_run_is_404(self, http, registry, run_id):
        assert_problem(await http.get(f"{RUNS}/{run_id}"), 404, "unknown-run")

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"book": "beijing"}, "invalid-request"),
            ({"period": "2026-13"}, "invalid-period"),
            ({"limit": 0}, "invalid-request"),
            ({"limit": 1001}, "invalid-request"),
            ({"after": "run\u0000"}, "invalid-request"),
        ],
    )
    async def test_a_bad_filter_is_refused(self, http, registry, params, code):
        assert_problem(await http.get(RUNS, params=params), 422, code)


class TestRanges:
    async def test_the_current_pieces_are_listed_in_serial_order(self, http, registry):
        page = (await http.get(RANGES)).json()
        assert [(p["serial"], p["status"]) for p in page["items"]] == [
            (nanao(1, 3), "active"),
            (nanao(4, 4), "retired"),
            (nanao(5, 10), "active"),
            (nanao(1, 2, run=2), "active"),
            (serial("shantou", 2026, 1, 1, 4), "active"),
        ]
        assert all(type(p["tonnes"]) is int and type(p["first"]) is int for p in page["items"])

    async def test_pieces_are_filtered_by_book_status_and_holder(self, http, registry):
        async def serials(**params):
            response = await http.get(RANGES, params=params)
            assert response.status_code == 200, response.text
            return [p["serial"] for p in response.json()["items"]]

        assert await serials(book="shantou") == [serial("shantou", 2026, 1, 1, 4)]
        assert await serials(status="retired") == [nanao(4, 4)]
        assert await serials(status="split") == [nanao(1, 10), nanao(4, 10)]
        assert await serials(account="acme-corp") == [nanao(1, 3)]
        assert await serials(account="nanao", book="nanao") == [nanao(5, 10), nanao(1, 2, run=2)]
        assert await serials(account="nobody-here") == []

    async def test_pieces_are_paged_with_the_last_serial_read(self, http, registry):
        first = (await http.get(RANGES, params={"limit": 3})).json()
        rest = (await http.get(RANGES, params={"limit": 3, "after": first["next_after"]})).json()
        assert first["next_after"] == nanao(5, 10) and rest["next_after"] is None
        assert len(first["items"]) + len(rest["items"]) == 5

    async def test_a_piece_shows_the_pieces_it_came_from_and_those_it_became(self, http, registry):
        piece = (await http.get(f"{RANGES}/{nanao(4, 4)}")).json()
        assert (piece["status"], piece["account_id"], piece["parent"]) == (
            "retired",
            "nanao-pilot",
            nanao(4, 10),
        )
        assert [(a["serial"], a["status"]) for a in piece["ancestors"]] == [
            (nanao(4, 10), "split"),
            (nanao(1, 10), "split"),
        ]
        assert piece["children"] == []

        issued = (await http.get(f"{RANGES}/{nanao(1, 10)}")).json()
        assert issued["parent"] is None and issued["ancestors"] == []
        assert [c["serial"] for c in issued["children"]] == [nanao(1, 3), nanao(4, 10)]

    @pytest.mark.parametrize("text", [nanao(1, 11), "TH-NANAO-2026-1-1-10", "TH-NANAO%00", "x" * 300])
    async def test_an_unknown_serial_is_404(self, http, registry, text):
        assert_problem(await http.get(f"{RANGES}/{text}"), 404, "unknown-range")

    @pytest.mark.parametrize(
        "params",
        [
            {"status": "gone"},
            {"book": "beijing"},
            {"account": "Acme\u0000"},
            {"after": "TH-\u0000"},
            {"limit": "ten"},
        ],
    )
    async def test_a_bad_filter_is_refused(self, http, registry, params):
        assert_problem(await http.get(RANGES, params=params), 422, "invalid-request")


class TestAccounts:
    async def test_every_account_shows_what_it_holds_per_book(self, http, registry):
        response = await http.get("/v1/registry/accounts")
        assert response.status_code == 200
        accounts = {a["account_id"]: a for a in response.json()}
        assert {a: (v["kind"], v["book"]) for a, v in accounts.items()} == {
            "acme-corp": ("buyer", None),
            "nanao": ("book", "nanao"),
            "nanao-pilot": ("pilot", "nanao"),
            "shantou": ("book", "shantou"),
        }
        assert accounts["nanao"]["holdings"] == [{"book": "nanao", "active_t": 8, "retired_t": 0}]
        assert accounts["nanao-pilot"]["holdings"] == [{"book": "nanao", "active_t": 0, "retired_t": 1}]
        assert accounts["acme-corp"]["holdings"] == [{"book": "nanao", "active_t": 3, "retired_t": 0}]
        assert_utc(accounts["acme-corp"]["created_at"])


async def test_the_public_registry_cannot_be_written_to(http, registry):
    for path in (RANGES, f"{RANGES}/{nanao(5, 10)}", "/v1/registry/accounts", RUNS):
        assert_problem(await http.post(path, json={}), 405, "method-not-allowed")
