"""/v1/audit/… and ``tanhui audit``: every administrative change leaves one chained entry, written in
the change's own transaction; auditors (and admins) read the log and verify the chain, and a row
altered behind the application's back is named by the verification. Auditors change nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from backend import audit
from backend.admin_api import partners as partner_admin
from backend.context import Platform
from points_engine.audit import chain
from tests.e2e.admin_api.test_methodologies import document
from tests.e2e.admin_api.test_partners import CALLERS, NEW_PARTNER, bearer, secrets_in
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.e2e.test_cli import as_json, tanhui
from tests.factories import make_partner

LOG = "/v1/audit/log"
VERIFY = "/v1/audit/verify"
PARTNERS = "/v1/admin/partners"


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform)


@pytest.fixture
def auditor(platform: Platform) -> dict[str, str]:
    return bearer(platform, "auditor")


async def entries(http: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await http.get(LOG, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def tamper(platform: Platform, sql: str) -> None:
    """Change audit_log directly, as the table's owner can: the trigger switched off for the statement."""
    async with platform.db.transaction() as tx:
        if platform.db.is_sqlite:  # no trigger on SQLite
            await tx.conn.exec_driver_sql(sql)
            return
        await tx.conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await tx.conn.exec_driver_sql(sql)
        await tx.conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def some_history(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Five events: a partner created, a key rotated and revoked, a webhook set and cleared."""
    assert (await http.post(PARTNERS, json=NEW_PARTNER, headers=admin)).status_code == 201
    assert (await http.post(f"{PARTNERS}/waste_st/keys", headers=admin)).status_code == 201
    assert (await http.delete(f"{PARTNERS}/waste_st/keys/k1", headers=admin)).status_code == 204
    hook = f"{PARTNERS}/waste_st/webhook"
    assert (await http.put(hook, json={"url": "https://w.example/h"}, headers=admin)).status_code == 200
    assert (await http.put(hook, json={"url": None}, headers=admin)).status_code == 200


class TestRecording:
    async def test_partner_and_key_changes_are_logged_with_their_actor_and_no_secret(
        self, http, admin, auditor
    ):
        # given
        created = (await http.post(PARTNERS, json=NEW_PARTNER, headers=admin)).json()
        rotated = (await http.post(f"{PARTNERS}/waste_st/keys", headers=admin)).json()
        await http.delete(f"{PARTNERS}/waste_st/keys/k1", headers=admin)
        hook = (
            await http.put(f"{PARTNERS}/waste_st/webhook", json={"url": "https://w.example/h"}, headers=admin)
        ).json()
        # when
        response = await http.get(LOG, headers=auditor)
        # then
        items = response.json()["items"]
        assert [(e["seq"], e["actor"], e["action"], e["subject"]) for e in items] == [
            (1, "op_admin", "partner.created", "partner:waste_st"),
            (2, "op_admin", "partner.key-rotated", "partner:waste_st"),
            (3, "op_admin", "partner.key-revoked", "partner:waste_st"),
            (4, "op_admin", "partner.webhook-set", "partner:waste_st"),
        ]
        assert items[0]["details"] == {
            "name": "汕头分类站",
            "types": ["waste_sorting"],
            "regions": ["440507"],
            "key_id": "k1",
        }
        assert [e["details"] for e in items[1:]] == [
            {"key_id": "k2"},
            {"key_id": "k1"},
            {"url": "https://w.example/h"},
        ]
        assert items[0]["prev_hash"] == "0" * 64
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(items))
        for secret in (created["secret"], rotated["secret"], hook["secret"]):
            assert secret not in response.text
        assert secrets_in(items) == []

    async def test_a_published_methodology_is_logged_with_its_publisher_and_document_hash(
        self, http, admin, auditor
    ):
        doc = document("2026.2")
        assert (await http.post("/v1/admin/methodologies", json=doc, headers=admin)).status_code == 201
        [entry] = await entries(http, auditor)
        assert (entry["actor"], entry["action"], entry["subject"]) == (
            "op_admin",
            "methodology.published",
            "methodology:2026.2",
        )
        assert entry["details"]["version"] == "2026.2"
        assert len(entry["details"]["document_sha256"]) == 64

    async def test_a_refused_change_logs_nothing(self, http, admin, platform):
        await http.post(PARTNERS, json=NEW_PARTNER, headers=admin)
        assert_problem(await http.post(PARTNERS, json=NEW_PARTNER, headers=admin), 409, "partner-exists")
        await http.post(f"{PARTNERS}/waste_st/keys", headers=admin)
        assert_problem(await http.post(f"{PARTNERS}/waste_st/keys", headers=admin), 409, "too-many-keys")
        assert_problem(await http.delete(f"{PARTNERS}/nobody/keys/k1", headers=admin), 404, "unknown-partner")
        assert await count_rows(platform, "audit_log") == 2

    async def test_changes_made_without_a_caller_are_logged_as_the_system(self, http, platform, auditor):
        await make_partner(platform, "transit_st")
        [entry] = await entries(http, auditor)
        assert (entry["actor"], entry["action"]) == ("system", "partner.created")

    async def test_concurrent_changes_extend_one_chain_without_gaps(self, platform):
        ids = [f"partner_{i:02d}" for i in range(12)]
        await asyncio.gather(
            *(partner_admin.create_partner(platform, i, ["trip"], ["440507"], actor="op_x") for i in ids)
        )
        report = await audit.verify(platform.db)
        assert report.ok and report.rows == 12 and report.head_seq == 12
        rows = await audit.page(platform.db, 0, 100)
        assert sorted(r.event.subject for r in rows) == sorted(f"partner:{i}" for i in ids)


class TestLog:
    async def test_the_log_is_read_page_by_page_with_a_cursor(self, http, admin, auditor):
        await some_history(http, admin)
        pages, after = [], 0
        while after is not None:
            response = await http.get(LOG, params={"after_seq": after, "limit": 2}, headers=auditor)
            page = response.json()
            pages.append([e["seq"] for e in page["items"]])
            after = page["next_after_seq"]
        assert pages == [[1, 2], [3, 4], [5]]

    async def test_anyone_can_recompute_the_chain_from_the_log_as_served(self, http, admin, auditor):
        """The recipe of docs/audit.md, with nothing of ours but the JSON."""
        await some_history(http, admin)
        await http.post("/v1/admin/methodologies", json=document("2026.2"), headers=admin)
        prev = "0" * 64
        for e in await entries(http, auditor):
            fields = {k: e[k] for k in ("action", "actor", "at", "details", "seq", "subject")}
            body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            assert e["prev_hash"] == prev
            assert hashlib.sha256(bytes.fromhex(prev) + body).hexdigest() == e["hash"]
            prev = e["hash"]

    async def test_a_page_after_the_last_entry_is_empty(self, http, admin, auditor):
        await some_history(http, admin)
        page = (await http.get(LOG, params={"after_seq": 5}, headers=auditor)).json()
        assert page == {"items": [], "next_after_seq": None}

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"after_seq": "x"}])
    async def test_a_bad_cursor_or_limit_is_an_invalid_request(self, http, auditor, params):
        assert_problem(await http.get(LOG, params=params, headers=auditor), 422, "invalid-request")


class TestVerify:
    async def test_an_untouched_log_verifies_and_reports_its_head(self, http, admin, auditor):
        assert (await http.get(VERIFY, headers=auditor)).json()["ok"] is True  # empty
        await some_history(http, admin)
        report = (await http.get(VERIFY, headers=auditor)).json()
        assert all(check["ok"] for check in report.pop("checks").values()) and report.pop("findings") == []
        report = {k: v for k, v in report.items() if k in ("ok", "rows", "head", "problem_count", "problems")}
        last = (await entries(http, auditor))[-1]
        assert report == {
            "ok": True,
            "rows": 5,
            "head": {"seq": 5, "hash": last["hash"]},
            "problem_count": 0,
            "problems": [],
        }

    async def test_a_row_altered_in_the_database_is_named(self, http, admin, auditor, platform):
        """The Done-when of issue 4: verification fails, naming the row, when one is altered directly."""
        # given
        await some_history(http, admin)
        # when
        await tamper(platform, """UPDATE audit_log SET details = '{"key_id": "k9"}' WHERE seq = 2""")
        # then
        report = (await http.get(VERIFY, headers=auditor)).json()
        assert report["ok"] is False and report["problem_count"] == 1
        [problem] = report["problems"]
        assert (problem["seq"], problem["code"]) == (2, "altered")

    async def test_a_row_deleted_from_the_database_is_named_as_missing(self, http, admin, auditor, platform):
        await some_history(http, admin)
        await tamper(platform, "DELETE FROM audit_log WHERE seq = 3")
        report = (await http.get(VERIFY, headers=auditor)).json()
        assert [(p["seq"], p["code"]) for p in report["problems"]] == [(3, "missing"), (4, "broken-link")]

    async def test_a_row_rewritten_with_its_hash_recomputed_breaks_the_next_link(
        self, http, admin, auditor, platform
    ):
        await some_history(http, admin)
        [row] = await audit.page(platform.db, 1, 1)  # seq 2
        forged = chain(row.prev_hash, dataclasses.replace(row.event, actor="nobody"))
        await tamper(platform, f"UPDATE audit_log SET actor = 'nobody', hash = '{forged.hash}' WHERE seq = 2")
        report = (await http.get(VERIFY, headers=auditor)).json()
        assert [(p["seq"], p["code"]) for p in report["problems"]] == [(3, "broken-link")]


class TestAppendOnly:
    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE audit_log SET actor = 'nobody' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "TRUNCATE audit_log",
        ],
    )
    async def test_postgresql_refuses_to_change_or_remove_a_row(self, http, admin, platform, sql):
        if platform.db.is_sqlite:
            pytest.skip("SQLite has no trigger: verification is the guard there")
        await some_history(http, admin)
        with pytest.raises(DBAPIError, match="append-only"):
            async with platform.db.transaction() as tx:
                await tx.conn.exec_driver_sql(sql)
        assert (await audit.verify(platform.db)).ok
        assert await count_rows(platform, "audit_log") == 5


AUDIT_ROUTES = [LOG, VERIFY]
REFUSED = [c for c in CALLERS if c[0] != "an auditor token"]


class TestAuthorisation:
    @pytest.mark.parametrize("path", AUDIT_ROUTES)
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), REFUSED, ids=[c[0] for c in REFUSED])
    async def test_only_auditors_and_admins_may_read_or_verify(
        self, http, platform, path, caller, headers, status, code
    ):
        assert_problem(await http.get(path, headers=headers(platform)), status, code)

    @pytest.mark.parametrize("path", AUDIT_ROUTES)
    @pytest.mark.parametrize("role", ["auditor", "admin"])
    async def test_auditors_and_admins_may(self, http, platform, path, role):
        assert (await http.get(path, headers=bearer(platform, role))).status_code == 200

    @pytest.mark.parametrize("path", AUDIT_ROUTES)
    async def test_a_correctly_signed_partner_request_is_not_a_bearer_token(self, http, platform, path):
        creds = await make_partner(platform, "transit_st")
        assert_problem(await signed(http, creds, "GET", path), 401, "invalid-token")

    async def test_an_auditor_changes_nothing(self, http, platform, auditor):
        await make_partner(platform, "transit_st")
        attempts = [
            http.post(PARTNERS, json=NEW_PARTNER, headers=auditor),
            http.post(f"{PARTNERS}/transit_st/keys", headers=auditor),
            http.delete(f"{PARTNERS}/transit_st/keys/k1", headers=auditor),
            http.put(f"{PARTNERS}/transit_st/webhook", json={"url": None}, headers=auditor),
            http.post("/v1/admin/methodologies", json=document("2026.2"), headers=auditor),
        ]
        for attempt in attempts:
            assert_problem(await attempt, 403, "forbidden")
        for method in ("POST", "PUT", "DELETE"):
            assert (await http.request(method, LOG, headers=auditor)).status_code == 405
        assert await count_rows(platform, "audit_log") == 1


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded installation where an operator created a partner, rotated its key, set its webhook."""
    var = tmp_path_factory.mktemp("audit-cli")
    tanhui(var, "partner", "create", "transit_st", "--types", "trip", "--regions", "440507")
    tanhui(var, "partner", "rotate-key", "transit_st")
    tanhui(var, "partner", "set-webhook", "transit_st", "https://t.example/h")
    return var


class TestCli:
    """``tanhui audit`` on the embedded default, as an operator runs it (real processes)."""

    def test_the_log_names_the_operator_and_verify_passes(self, var: Path) -> None:
        log = as_json(tanhui(var, "audit", "log", "--json"))
        assert [e["action"] for e in log] == ["partner.created", "partner.key-rotated", "partner.webhook-set"]
        assert all(e["actor"].startswith("cli") for e in log)
        verified = tanhui(var, "audit", "verify", "--json")
        report = as_json(verified)
        assert report["ok"] is True and report["head"] == {"seq": 3, "hash": log[-1]["hash"]}
        anchor = f"3:{log[-1]['hash']}"
        assert tanhui(var, "audit", "verify", "--anchor", anchor).returncode == 0

    def test_verify_fails_naming_the_row_altered_in_the_database(self, var: Path) -> None:
        head = as_json(tanhui(var, "audit", "verify", "--json"))["head"]
        with sqlite3.connect(var / "tanhui.db") as db:
            db.execute("""UPDATE audit_log SET details = '{"key_id": "k7"}' WHERE seq = 2""")
        refused = tanhui(var, "audit", "verify", ok=False)
        assert refused.returncode == 1
        assert "seq 2: altered" in refused.stdout + refused.stderr
        report = as_json(tanhui(var, "audit", "verify", "--json", ok=False))
        assert [(p["seq"], p["code"]) for p in report["problems"]] == [(2, "altered")]
        # an anchor of the head recorded earlier still holds: only row 2 changed
        assert tanhui(var, "audit", "verify", "--anchor", f"3:{head['hash']}", ok=False).returncode == 1


async def test_a_partner_changing_its_own_webhook_is_recorded_with_the_partner_as_actor(app, platform):
    from backend.audit import page
    from tests.factories import make_partner, sdk

    client = sdk(app, await make_partner(platform, "bike_st"))
    await client.set_webhook("https://bike.example/hooks")
    await client.delete_webhook()
    rows = [r.event for r in await page(platform.db, 0, 100) if r.event.action == "partner.webhook-set"]
    assert [(r.actor, r.subject, r.details) for r in rows] == [
        ("partner:bike_st", "partner:bike_st", {"url": "https://bike.example/hooks"}),
        ("partner:bike_st", "partner:bike_st", {"url": None}),
    ]
