"""DELETE /v1/citizen/me?confirm=<citizen_id>: the account is deleted by pseudonymisation; the ledger,
the outcomes and the certification runs stay whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from backend.admin_api.partners import rotate_key
from backend.certification.runs import certify
from backend.crypto import keyed_hash
from backend.expiry import movements as expiry_ledger
from backend.ledger_store import post
from backend.models import (
    AcceptedAction,
    AuditRecord,
    Binding,
    Citizen,
    LedgerBalance,
    LedgerTransaction,
    SettledOutcome,
)
from backend.partner_api import repository as repo
from backend.privacy.deletion import _pseudonymise
from backend.privacy.pseudonyms import user_pseudonym
from backend.reconcile.runner import reconcile
from partners.sdk import Credentials
from points_engine.expiry import outlook
from points_engine.ledger import spend_reserve_tx, spend_void_tx
from tests.e2e.citizen_api.conftest import citizen_headers
from tests.e2e.citizen_api.test_authorisation import CALLERS
from tests.e2e.citizen_api.test_consents import Bound
from tests.e2e.partner_api.test_signing import assert_problem
from tests.factories import mobile, sdk, trip
from tests.integration.certification.seed import balance

ME = "/v1/citizen/me"
PII_KEY = "test-pii-key"  # the conftest `settings` fixture's pii_key


@pytest.fixture
async def bound(platform, app, world) -> AsyncIterator[Bound]:  # type: ignore[no-untyped-def]
    """The world's transit and bike operators as SDK clients (with a second key each), and Carol,
    bound at the bike operator only, with no points."""
    creds = {}
    for partner_id in ("transit_st", "bike_st"):
        issued = await rotate_key(platform, partner_id)
        creds[partner_id] = Credentials(partner_id, issued.key_id, issued.secret)
    async with sdk(app, creds["transit_st"]) as transit, sdk(app, creds["bike_st"]) as bike:
        carol = (await bike.bind("bk_carol", mobile(3))).citizen_id
        yield Bound(transit, bike, world.alice, world.bob, carol)


def delete_me(citizen_id: str, confirm: str | None = None) -> str:
    return f"{ME}?confirm={citizen_id if confirm is None else confirm}"


def _hashable(value: Any) -> Any:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS) if isinstance(value, dict | list) else value


async def rows(platform, table: Any) -> set[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with platform.db.read() as conn:
        return {tuple(map(_hashable, r)) for r in await conn.execute(select(table))}


async def balances(platform) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with platform.db.read() as conn:
        query = select(LedgerBalance.account, func.sum(LedgerBalance.balance)).group_by(LedgerBalance.account)
        return {a: int(b) for a, b in await conn.execute(query)}


async def everything(platform) -> str:  # type: ignore[no-untyped-def]
    """Every row of every table, as text: what a database dump would show."""
    parts = []
    async with platform.db.read() as conn:
        for table in SQLModel.metadata.sorted_tables:
            parts.extend(repr(tuple(r)) for r in await conn.execute(select(table)))
    return "\n".join(parts)


async def snapshot(platform) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "citizens": await rows(platform, Citizen),
        "bindings": await rows(platform, Binding),
        "actions": await rows(platform, AcceptedAction),
        "outcomes": await rows(platform, SettledOutcome),
        "transactions": await rows(platform, LedgerTransaction),
        "balances": await balances(platform),
        "audit": await rows(platform, AuditRecord),
    }


async def reserve(platform, citizen_id: str, points: int) -> Any:  # type: ignore[no-untyped-def]
    """Points held as a redemption in progress would hold them."""
    reserved = spend_reserve_tx(citizen_id, "r_test_1", points)
    async with platform.db.transaction() as tx:
        await post(tx.conn, [reserved], tx.started_at)
    return reserved


class TestDeleteAccount:
    async def test_deletion_erases_identifiers_forfeits_available_points_and_keeps_every_posting(
        self, http, platform, world, bound
    ):
        """Alice (bound at transit and bike, with pending and available points and an action still
        unsettled) deletes her account: her identifiers are gone from every table, her available
        points go to expiry:shantou, every earlier posting and outcome is still there, and the
        ledger sums to zero."""
        # given
        alice = world.alice
        await bound.transit.report([trip("wx_alice", event_id="late-1")])
        before = await snapshot(platform)
        pending = before["balances"][f"citizen:{alice}:pending"]
        available = before["balances"][f"citizen:{alice}:available"]
        assert pending > 0 and available > 0
        # when
        response = await http.delete(delete_me(alice), headers=citizen_headers(platform, alice))
        # then
        assert response.status_code == 200, response.text
        receipt = response.json()
        assert {k: v for k, v in receipt.items() if k != "deleted_at"} == {
            "citizen_id": alice,
            "forfeited_points": available,
            "pending_points": pending,
            "bindings": 2,
            "actions": 1,
        }
        after = await snapshot(platform)
        assert before["outcomes"] == after["outcomes"]
        new_txs = after["transactions"] - before["transactions"]
        assert before["transactions"] <= after["transactions"]
        assert [(t[1], t[3], t[4], t[5]) for t in new_txs] == [
            ("expire", f"citizen:{alice}:available", "expiry:shantou", available)
        ]
        assert sum(after["balances"].values()) == 0
        assert after["balances"][f"citizen:{alice}:available"] == 0
        assert after["balances"][f"citizen:{alice}:pending"] == pending
        assert after["balances"]["expiry:shantou"] == available
        dump = await everything(platform)
        for identifier in ("wx_alice", "bk_alice", keyed_hash(PII_KEY, mobile(1)), mobile(1)[1:]):
            assert identifier not in dump

    async def test_the_audit_verification_finds_nothing_new_after_a_deletion(
        self, http, platform, world, bound
    ):
        """`tanhui audit verify`: the chain, every run's root recomputed from the outcomes, the
        ledger's postings and balances, the partners' totals."""
        await bound.transit.report([trip("wx_alice", event_id="late-1")])
        before = await reconcile(platform.db)
        await http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
        after = await reconcile(platform.db)
        assert after.chain.ok
        assert [f.as_json() for f in after.findings] == [f.as_json() for f in before.findings]

    async def test_the_partner_user_ids_become_keyed_pseudonyms_in_bindings_and_actions(
        self, http, platform, world, bound
    ):
        alice = world.alice
        await bound.transit.report([trip("wx_alice", event_id="late-1"), trip("wx_bob", event_id="late-2")])
        await http.delete(delete_me(alice), headers=citizen_headers(platform, alice))
        async with platform.db.read() as conn:
            bindings = {
                (r.partner_id, r.user): (r.citizen_id, r.consent_withdrawn_at)
                for r in await conn.execute(select(Binding))
            }
            actions = {r.event_id: (r.citizen_id, r.user) for r in await conn.execute(select(AcceptedAction))}
            citizen = (await conn.execute(select(Citizen).where(Citizen.citizen_id == alice))).one()
        transit = user_pseudonym(PII_KEY, alice, "transit_st", "wx_alice")
        bike = user_pseudonym(PII_KEY, alice, "bike_st", "bk_alice")
        assert bindings[("transit_st", transit)] == (alice, citizen.deleted_at)
        assert bindings[("bike_st", bike)] == (alice, citizen.deleted_at)
        assert actions == {"late-1": (alice, transit), "late-2": (world.bob, "wx_bob")}
        assert bindings[("transit_st", "wx_bob")] == (world.bob, None)
        assert citizen.mobile_hash.startswith("deleted:") and len(citizen.mobile_hash) == 64
        assert citizen.deleted_at is not None

    async def test_the_audit_log_records_the_deletion_without_personal_data(
        self, http, platform, world, bound
    ):
        alice = world.alice
        response = await http.delete(delete_me(alice), headers=citizen_headers(platform, alice))
        receipt = response.json()
        async with platform.db.read() as conn:
            logged = (
                await conn.execute(select(AuditRecord).where(AuditRecord.action == "citizen.deleted"))
            ).one()
        assert (logged.actor, logged.subject) == (f"citizen:{alice}", f"citizen:{alice}")
        assert logged.details == {
            "forfeited_points": receipt["forfeited_points"],
            "pending_points": receipt["pending_points"],
            "bindings": 2,
            "actions": 0,
        }

    async def test_the_citizens_tokens_stop_working_at_once(self, http, platform, world, bound):
        headers = citizen_headers(platform, world.alice)
        await http.delete(delete_me(world.alice), headers=headers)
        for method, path in [
            ("GET", ME),
            ("GET", "/v1/citizen/balances"),
            ("GET", "/v1/citizen/history"),
            ("GET", "/v1/citizen/export"),
            ("POST", "/v1/citizen/consents/transit_st/grant"),
            ("DELETE", delete_me(world.alice)),
        ]:
            assert_problem(await http.request(method, path, headers=headers), 410, "citizen-deleted")
        # reserving checks deletion inside its own transaction (the hot path), not in a dependency
        reserve = await http.post("/v1/citizen/reservations", json={"offer_id": "o_any"}, headers=headers)
        assert_problem(reserve, 410, "citizen-deleted")
        assert (await http.get(ME, headers=citizen_headers(platform, world.bob))).status_code == 200

    async def test_the_partner_cannot_sign_the_deleted_citizen_in_nor_report_for_them(
        self, http, platform, world, bound
    ):
        await http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
        result = await bound.transit.report([trip("wx_alice", event_id="after-1")])
        assert result.results[0].problem is not None
        assert result.results[0].problem["type"].endswith("/unbound-user")

    async def test_a_report_racing_the_deletion_never_keeps_the_real_user_id(self, platform, world, bound):
        if platform.db.is_sqlite:
            pytest.skip("SQLite has one writer: a report cannot interleave with the deletion")
        # given: a deletion that has pseudonymised Alice's bindings and actions, not yet committed
        async with platform.db.transaction() as tx:
            await _pseudonymise(tx, PII_KEY, world.alice)
            # when: her transit operator reports a trip meanwhile
            racing = asyncio.create_task(bound.transit.report([trip("wx_alice", event_id="racing-1")]))
            await asyncio.sleep(0.5)
            assert not racing.done()  # it waits for the deletion's lock on the binding
        result = await racing
        # then: the report found no such user; no action names her partner user id
        assert result.results[0].problem is not None
        assert result.results[0].problem["type"].endswith("/unbound-user")
        async with platform.db.read() as conn:
            leaked = await conn.execute(select(AcceptedAction).where(AcceptedAction.user == "wx_alice"))
            assert leaked.first() is None

    async def test_a_binding_racing_the_deletion_is_pseudonymised_with_the_rest(
        self, http, platform, world, bound
    ):
        if platform.db.is_sqlite:
            pytest.skip("SQLite has one writer: a binding cannot interleave with the deletion")
        # given: a partner binding a new user to Alice's mobile has found her, not yet bound
        async with platform.db.transaction() as tx:
            mobile_hash = keyed_hash(PII_KEY, mobile(1))
            citizen_id = await repo.citizen_by_mobile(tx.conn, mobile_hash, "c_never", tx.started_at)
            assert citizen_id == world.alice
            # when: Alice deletes her account meanwhile
            deleting = asyncio.create_task(
                http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
            )
            await asyncio.sleep(0.5)
            assert not deleting.done()  # it waits for the binding's share lock on her row
            await repo.insert_binding(tx.conn, "bike_st", "bk_racing", citizen_id, tx.started_at)
        assert (await deleting).status_code == 200
        # then: the binding made meanwhile was pseudonymised like every other of hers
        async with platform.db.read() as conn:
            users = set(
                (await conn.execute(select(Binding.user).where(Binding.citizen_id == world.alice))).scalars()
            )
        assert "bk_racing" not in users
        assert user_pseudonym(PII_KEY, world.alice, "bike_st", "bk_racing") in users

    async def test_the_same_mobile_binds_again_as_a_new_citizen(self, http, platform, world, bound):
        await http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
        # when
        again = await bound.transit.bind("wx_alice", mobile(1))
        also = await bound.bike.bind("bk_alice", mobile(1))
        # then
        assert again.created and again.citizen_id != world.alice
        assert also.citizen_id == again.citizen_id
        token = (await bound.transit.citizen_token("wx_alice")).access_token
        me = (await http.get(ME, headers={"authorization": f"Bearer {token}"})).json()
        assert me["citizen_id"] == again.citizen_id
        assert {p["partner_id"]: p["consent"] for p in me["partners"]} == {
            "bike_st": "given",
            "transit_st": "given",
        }
        balances = await http.get("/v1/citizen/balances", headers={"authorization": f"Bearer {token}"})
        assert [balances.json()[k] for k in ("pending", "available", "held")] == [0, 0, 0]
        reported = await bound.transit.report([trip("wx_alice", event_id="new-1")])
        assert reported.accepted == 1
        async with platform.db.read() as conn:
            owner = (
                await conn.execute(
                    select(AcceptedAction.citizen_id).where(AcceptedAction.event_id == "new-1")
                )
            ).scalar_one()
        assert owner == again.citizen_id

    async def test_held_points_refuse_the_deletion_and_nothing_changes(self, http, platform, world, bound):
        # given: a redemption in progress holds points
        reserved = await reserve(platform, world.alice, 1_000)
        before = await snapshot(platform)
        # when
        response = await http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
        # then
        assert_problem(response, 409, "open-reservations")
        assert await snapshot(platform) == before
        # and once the redemption is voided, the points held come back and are forfeited too
        async with platform.db.transaction() as tx:
            await post(tx.conn, [spend_void_tx(reserved)], tx.started_at)
        available = await balance(platform, f"citizen:{world.alice}:available")
        response = await http.delete(delete_me(world.alice), headers=citizen_headers(platform, world.alice))
        assert response.status_code == 200 and response.json()["forfeited_points"] == available

    @pytest.mark.parametrize(
        "confirm", ["", "DELETE", "c_someone_else", "x" * 41], ids=["empty", "word", "other id", "too long"]
    )
    async def test_without_the_citizens_own_id_as_confirmation_nothing_is_deleted(
        self, http, platform, world, bound, confirm
    ):
        before = await snapshot(platform)
        response = await http.delete(
            delete_me(world.alice, confirm), headers=citizen_headers(platform, world.alice)
        )
        assert_problem(response, 422, "invalid-request")
        missing = await http.delete(ME, headers=citizen_headers(platform, world.alice))
        assert_problem(missing, 422, "invalid-request")
        assert await snapshot(platform) == before

    async def test_a_citizen_with_nothing_available_forfeits_nothing(self, http, platform, bound):
        before = await rows(platform, LedgerTransaction)
        response = await http.delete(delete_me(bound.carol), headers=citizen_headers(platform, bound.carol))
        assert response.status_code == 200, response.text
        assert (response.json()["forfeited_points"], response.json()["bindings"]) == (0, 1)
        assert await rows(platform, LedgerTransaction) == before

    async def test_a_token_of_no_known_citizen_deletes_nothing(self, http, platform, bound):
        before = await snapshot(platform)
        response = await http.delete(delete_me("c_nobody"), headers=citizen_headers(platform, "c_nobody"))
        assert_problem(response, 404, "not-found")
        assert await snapshot(platform) == before

    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_the_citizens_own_token_deletes(
        self, http, platform, bound, caller, headers, status, code
    ):
        before = await snapshot(platform)
        response = await http.delete(delete_me(bound.alice), headers=headers(platform, bound.alice))
        assert_problem(response, status, code)
        assert await snapshot(platform) == before

    async def test_available_points_are_forfeited_into_the_book_they_were_certified_in(
        self, http, platform, world, bound
    ):
        """Nan'ao's points expire into Nan'ao's account, as the expiry sweep would take them; the
        sweep's replay of the account still holds when points arrive after the deletion."""
        # given: Alice's Nan'ao action certified too
        alice = world.alice
        await certify(platform.db, "nanao", "2026-11", actor="admin:test")
        nanao = sum(i.points for i in world.of(alice) if i.book == "nanao" and i.eligible)
        shantou = sum(i.points for i in world.certified(alice))
        assert await balance(platform, f"citizen:{alice}:available") == nanao + shantou
        before = await rows(platform, LedgerTransaction)
        # when
        response = await http.delete(delete_me(alice), headers=citizen_headers(platform, alice))
        # then
        assert response.json()["forfeited_points"] == nanao + shantou
        forfeits = {(t[2], t[4], t[5]) for t in await rows(platform, LedgerTransaction) - before}
        assert forfeits == {
            (f"{alice}/deletion/shantou", "expiry:shantou", shantou),
            (f"{alice}/deletion/nanao", "expiry:nanao", nanao),
        }
        # and when her pending points are certified later, the sweep's view of her account holds
        await certify(platform.db, "shantou", "2026-11", actor="admin:test")
        account = f"citizen:{alice}:available"
        async with platform.db.read() as conn:
            history = (await expiry_ledger.movements(conn, [account]))[account]
        view = outlook(history, datetime.now(UTC), platform.settings.points_validity_months)
        assert view.due == {} and await balance(platform, account) == sum(i.points for i in world.late)

    async def test_a_later_certification_still_moves_the_deleted_citizens_pending_points(
        self, http, platform, world, bound
    ):
        """Pending points stay in the deleted account (docs/privacy.md); certifying them later
        books as usual and the ledger still sums to zero."""
        alice = world.alice
        await http.delete(delete_me(alice), headers=citizen_headers(platform, alice))
        pending = await balance(platform, f"citizen:{alice}:pending")
        late = [i for i in world.late if i.citizen_id == alice]
        # when
        await certify(platform.db, "shantou", "2026-11", actor="admin:test")
        # then
        assert await balance(platform, f"citizen:{alice}:available") == sum(i.points for i in late)
        assert await balance(platform, f"citizen:{alice}:pending") == pending - sum(i.points for i in late)
        assert sum((await balances(platform)).values()) == 0
