"""``GET /v1/audit/verify?reconcile=true`` and ``tanhui audit verify``: the chain, every run's
Merkle tree, the serial ranges, the ledger and per-partner totals, recomputed and reconciled;
auditors and admins only; a row altered in the database fails it, named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem
from tests.e2e.test_cli import as_json, tanhui
from tests.integration.reconcile.data import alter, certified_history

VERIFY = "/v1/audit/verify"
FULL = {"reconcile": "true"}
REFUSED = [c for c in CALLERS if c[0] != "an auditor token"]
CHECKS = ["chain", "runs", "ranges", "overlap", "ledger", "partners", "redemptions", "campaigns"]


class TestApi:
    async def test_certified_history_reconciles(self, http, platform):
        await certified_history(platform)
        report = (await http.get(VERIFY, params=FULL, headers=bearer(platform, "auditor"))).json()
        assert report["ok"] is True and report["finding_count"] == 0 and report["findings"] == []
        assert list(report["checks"]) == CHECKS
        # nothing was spent and no campaign ran in this history: those checks have no rows to look at
        idle = {"redemptions", "campaigns"}
        looked = {name: c for name, c in report["checks"].items() if name not in idle}
        assert all(c["ok"] and c["checked"] > 0 for c in looked.values())
        assert all(report["checks"][name]["ok"] is True for name in idle)
        assert report["rows"] == 3 and report["problems"] == []  # the chain's fields as before
        assert report["info"]["partners"]["transit_st"]["outcomes"] > 0

    async def test_an_altered_run_chunk_is_named(self, http, platform):
        await certified_history(platform)
        await alter(platform, "UPDATE run_chunks SET size = 1000 WHERE run_id = 'run_nanao_2026-11_000001'")
        report = (await http.get(VERIFY, params=FULL, headers=bearer(platform, "auditor"))).json()
        assert report["ok"] is False and report["checks"]["runs"]["ok"] is False
        [finding] = report["findings"]
        assert (finding["check"], finding["code"]) == ("runs", "chunk-size")
        assert finding["subject"].startswith("run run_nanao_2026-11_000001 chunk 0 (")

    async def test_with_reconcile_false_the_answer_is_the_chain_alone(self, http, platform):
        await certified_history(platform)
        await alter(platform, "UPDATE certification_runs SET root = 'x' WHERE number = 1")
        auditor = bearer(platform, "auditor")
        report = (await http.get(VERIFY, params={"reconcile": "false"}, headers=auditor)).json()
        assert set(report) == {"ok", "rows", "head", "problem_count", "problems"} and report["ok"] is True
        assert (await http.get(VERIFY, headers=auditor)).json()["ok"] is False  # the default reconciles

    @pytest.mark.parametrize("role", ["auditor", "admin"])
    async def test_auditors_and_admins_may_reconcile(self, http, platform, role):
        response = await http.get(VERIFY, params={**FULL, "strict": "true"}, headers=bearer(platform, role))
        assert response.status_code == 200 and response.json()["ok"] is True

    @pytest.mark.parametrize(("caller", "headers", "status", "code"), REFUSED, ids=[c[0] for c in REFUSED])
    async def test_anyone_else_is_refused(self, http, platform, caller, headers, status, code):
        assert_problem(await http.get(VERIFY, params=FULL, headers=headers(platform)), status, code)


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded installation with a partner (one audit entry)."""
    var = tmp_path_factory.mktemp("reconcile-cli")
    tanhui(var, "partner", "create", "transit_st", "--types", "trip", "--regions", "440507")
    return var


class TestCli:
    """``tanhui audit verify`` as an operator runs it (real processes, the embedded default)."""

    def test_a_consistent_installation_verifies_with_exit_status_0(self, var: Path) -> None:
        human = tanhui(var, "audit", "verify")
        assert "all checks agree" in human.stdout + human.stderr
        report = as_json(tanhui(var, "audit", "verify", "--json", "--strict"))
        assert report["ok"] is True and list(report["checks"]) == CHECKS
        assert report["head"]["seq"] == 1 and report["problems"] == []
        chain_only = as_json(tanhui(var, "audit", "verify", "--chain-only", "--json"))
        assert set(chain_only) == {"ok", "rows", "head", "problem_count", "problems"}

    def test_a_balance_altered_in_the_database_exits_1_naming_the_account(self, var: Path) -> None:
        with sqlite3.connect(var / "tanhui.db") as db:
            db.execute("INSERT INTO ledger_balances (account, shard, balance) VALUES ('merchant:m_1', 0, 5)")
        try:
            refused = tanhui(var, "audit", "verify", ok=False)
            assert refused.returncode == 1
            assert "ledger: account merchant:m_1: balance:" in refused.stdout + refused.stderr
            report = as_json(tanhui(var, "audit", "verify", "--json", ok=False))
            assert {(f["check"], f["code"], f["subject"]) for f in report["findings"]} == {
                ("ledger", "balance", "account merchant:m_1"),
                ("ledger", "sum", "ledger_balances"),
                # and no redemption stands behind the merchant's points
                ("redemptions", "merchant-balance", "account merchant:m_1"),
            }
            assert tanhui(var, "audit", "verify", "--chain-only").returncode == 0
        finally:
            with sqlite3.connect(var / "tanhui.db") as db:
                db.execute("DELETE FROM ledger_balances WHERE account = 'merchant:m_1'")
