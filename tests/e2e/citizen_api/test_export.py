"""GET /v1/citizen/export: everything Tanhui holds about the token's citizen, as one JSON document,
and nothing about anyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import or_, select

from backend.ledger_store import post
from backend.models import LedgerTransaction, Merchant, Offer, Reservation
from backend.privacy import export
from points_engine.certification import SHANGHAI
from points_engine.ledger import spend_reserve_tx
from tests.e2e.citizen_api import test_deletion
from tests.e2e.citizen_api.conftest import NOV, citizen_headers
from tests.e2e.citizen_api.test_authorisation import CALLERS
from tests.e2e.partner_api.test_signing import assert_problem
from tests.factories import trip
from tests.integration.certification.seed import Seeded, seed

EXPORT = "/v1/citizen/export"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
bound = test_deletion.bound  # the fixture: the world's partners as SDK clients


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def get_export(http, platform, citizen_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await http.get(EXPORT, headers=citizen_headers(platform, citizen_id))
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)  # type: ignore[no-any-return]


async def transactions_of(platform, citizen_id: str) -> dict[str, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """Every ledger row touching the citizen's accounts, found by reading the whole journal."""
    accounts = [f"citizen:{citizen_id}:{state}" for state in ("pending", "available", "held")]
    t = LedgerTransaction.__table__.c  # type: ignore[attr-defined]
    async with platform.db.read() as conn:
        found = await conn.execute(
            select(LedgerTransaction.__table__).where(or_(t.debit.in_(accounts), t.credit.in_(accounts)))  # type: ignore[attr-defined]
        )
        return {r.tx_id: (r.kind, r.cause, r.debit, r.credit, r.amount, r.booked_at) for r in found}


def newest_first(items: list[Seeded]) -> list[Seeded]:
    ordered = sorted(items, key=lambda i: (i.partner_id, i.event_id))
    return sorted(ordered, key=lambda i: i.occurred_at, reverse=True)


async def reserve(platform, citizen_id: str) -> str:  # type: ignore[no-untyped-def]
    """A reservation of 500 points at a cafe, with its points held."""
    reserved = spend_reserve_tx(citizen_id, "r_export_1", 500)
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            Merchant.__table__.insert().values(  # type: ignore[attr-defined]
                merchant_id="m_cafe", name="Cafe", book="shantou", status="active", created_at=T0
            )
        )
        await tx.conn.execute(
            Offer.__table__.insert().values(  # type: ignore[attr-defined]
                offer_id="o_tea",
                merchant_id="m_cafe",
                title="Tea",
                description="",
                price_points=500,
                stock_total=10,
                stock_left=9,
                per_citizen_limit=1,
                valid_from=T0,
                valid_until=T0 + timedelta(days=30),
                book="shantou",
                status="active",
                created_at=T0,
            )
        )
        await tx.conn.execute(
            Reservation.__table__.insert().values(  # type: ignore[attr-defined]
                reservation_id="r_export_1",
                offer_id="o_tea",
                merchant_id="m_cafe",
                citizen_id=citizen_id,
                points=500,
                book="shantou",
                status="reserved",
                code_hash="f" * 64,
                reserve_tx=reserved.tx_id,
                reserved_at=T0,
                expires_at=T0 + timedelta(minutes=15),
            )
        )
        await post(tx.conn, [reserved], tx.started_at)
    return reserved.tx_id


class TestExport:
    async def test_the_export_is_a_json_attachment_with_the_citizens_profile_bindings_and_balances(
        self, http, platform, world
    ):
        # when
        response = await http.get(EXPORT, headers=citizen_headers(platform, world.alice))
        # then
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        day = datetime.now(UTC).astimezone(SHANGHAI).strftime("%Y%m%d")
        assert (
            response.headers["content-disposition"]
            == f'attachment; filename="tanhui-{world.alice}-{day}.json"'
        )
        assert response.headers["cache-control"] == "no-store"
        doc = orjson.loads(response.content)
        assert list(doc) == [
            "schema", "generated_at", "citizen", "bindings", "balances", "outcomes", "unsettled_actions",
            "transactions", "credits", "runs", "reservations",
        ]  # fmt: skip
        assert doc["schema"] == "tanhui.citizen-export/1"
        assert abs(at(doc["generated_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
        me = (await http.get("/v1/citizen/me", headers=citizen_headers(platform, world.alice))).json()
        assert doc["citizen"] == {"citizen_id": world.alice, "created_at": me["created_at"]}
        assert [
            (b["partner_id"], b["user"], b["consent"], b["consent_withdrawn_at"]) for b in doc["bindings"]
        ] == [
            ("bike_st", "bk_alice", "given", None),
            ("transit_st", "wx_alice", "given", None),
        ]
        balances = await http.get("/v1/citizen/balances", headers=citizen_headers(platform, world.alice))
        assert doc["balances"] == {k: balances.json()[k] for k in ("pending", "available", "held")}

    async def test_outcomes_are_exactly_the_citizens_own_newest_first(self, http, platform, world):
        doc = await get_export(http, platform, world.alice)
        expected = [
            {
                "partner_id": i.partner_id,
                "event_id": i.event_id,
                "type": i.type,
                "occurred_at": i.occurred_at,
                "status": i.status,
                "reduction_g": i.reduction_g,
                "points": i.points,
                "reasons": ["repetition-review"] if i.flagged else [],
                "flagged": i.flagged,
                "methodology": i.methodology,
                "book": i.book,
                "action": None,  # seeded straight as outcomes: no accepted action rows behind them
            }
            for i in newest_first(world.of(world.alice))
        ]
        got = [{**o, "occurred_at": at(o["occurred_at"])} for o in doc["outcomes"]]
        assert [{k: v for k, v in o.items() if k != "settled_at"} for o in got] == expected

    async def test_transactions_are_every_posting_on_the_citizens_accounts_settles_first(
        self, http, platform, world
    ):
        # given: points held by a reservation too (a transaction between two of Alice's accounts)
        reserve_tx = await reserve(platform, world.alice)
        # when
        doc = await get_export(http, platform, world.alice)
        # then
        stored = await transactions_of(platform, world.alice)
        listed = doc["transactions"]
        assert len(listed) == len(stored) == len({t["tx_id"] for t in listed})
        for t in listed:
            assert (
                t["kind"],
                t["cause"],
                t["debit"],
                t["credit"],
                t["amount"],
                at(t["booked_at"]),
            ) == stored[t["tx_id"]]
        kinds = [t["kind"] for t in listed]
        settles = kinds.count("settle")
        assert kinds[:settles] == ["settle"] * settles and "settle" not in kinds[settles:]
        assert [t["cause"] for t in listed[:settles]] == [
            f"{i.partner_id}/{i.event_id}" for i in newest_first(world.of(world.alice)) if i.points > 0
        ]
        others = listed[settles:]
        assert {t["kind"] for t in others} == {"certify-run", "spend-reserve"}
        assert [at(t["booked_at"]) for t in others] == sorted(at(t["booked_at"]) for t in others)
        assert reserve_tx in {t["tx_id"] for t in others}

    async def test_credits_name_each_certified_action_and_runs_carry_their_roots_and_ranges(
        self, http, platform, world
    ):
        doc = await get_export(http, platform, world.alice)
        assert sorted((c["partner_id"], c["event_id"], c["run_id"]) for c in doc["credits"]) == sorted(
            (i.partner_id, i.event_id, world.run.run_id) for i in world.certified(world.alice)
        )
        [run] = doc["runs"]
        assert (run["run_id"], run["book"], run["period"], run["root"], run["tree_size"]) == (
            world.run.run_id,
            "shantou",
            "2026-11",
            world.run.root,
            world.run.tree_size,
        )
        assert [r["serial"] for r in run["ranges"]] == [world.run.serial]

    async def test_unsettled_actions_and_reservations_are_included(self, http, platform, world, bound):
        # given
        await bound.transit.report([trip("wx_alice", event_id="late-1")])
        await reserve(platform, world.alice)
        # when
        doc = await get_export(http, platform, world.alice)
        # then
        [unsettled] = doc["unsettled_actions"]
        assert (unsettled["partner_id"], unsettled["event_id"], unsettled["user"]) == (
            "transit_st",
            "late-1",
            "wx_alice",
        )
        assert unsettled["data"] == {"mode": "bus", "distance_m": 5200, "duration_s": 1380}
        [reservation] = doc["reservations"]
        assert (reservation["reservation_id"], reservation["offer_id"], reservation["points"]) == (
            "r_export_1",
            "o_tea",
            500,
        )
        assert "code_hash" not in reservation and "f" * 64 not in orjson.dumps(doc).decode()

    async def test_another_citizens_export_holds_nothing_of_the_first(self, http, platform, world, bound):
        await bound.transit.report([trip("wx_alice", event_id="late-1")])
        await reserve(platform, world.alice)
        response = await http.get(EXPORT, headers=citizen_headers(platform, world.bob))
        doc = orjson.loads(response.content)
        for trace in (world.alice, "wx_alice", "bk_alice", "a-0", "late-1", "r_export_1"):
            assert trace not in response.text
        assert {o["event_id"][:2] for o in doc["outcomes"]} == {"b-"}
        assert doc["unsettled_actions"] == doc["reservations"] == []

    async def test_a_history_longer_than_a_page_is_exported_whole_and_in_order(self, http, platform, world):
        # given: Bob with 2.5 pages of outcomes beyond the world's
        many = [
            Seeded(
                "transit_st", f"bulk-{n:05d}", world.bob, NOV + timedelta(minutes=n % 977), 100 + n, 100 + n
            )
            for n in range(export.PAGE * 5 // 2)
        ]
        await seed(platform, many)
        # when
        doc = await get_export(http, platform, world.bob)
        # then
        mine = many + world.of(world.bob)
        assert [(o["partner_id"], o["event_id"]) for o in doc["outcomes"]] == [
            (i.partner_id, i.event_id) for i in newest_first(mine)
        ]
        settles = [t for t in doc["transactions"] if t["kind"] == "settle"]
        assert [t["cause"] for t in settles] == [
            f"{i.partner_id}/{i.event_id}" for i in newest_first(mine) if i.points > 0
        ]
        assert len(doc["transactions"]) == len(await transactions_of(platform, world.bob))

    async def test_a_token_of_no_known_citizen_exports_nothing(self, http, platform, world):
        assert_problem(
            await http.get(EXPORT, headers=citizen_headers(platform, "c_nobody")), 404, "not-found"
        )

    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_a_citizen_token_exports(self, http, platform, world, caller, headers, status, code):
        response = await http.get(EXPORT, headers=headers(platform, world.alice))
        assert_problem(response, status, code)
        assert "wx_alice" not in response.text
