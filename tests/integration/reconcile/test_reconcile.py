"""``backend.reconcile`` on real databases: certified history reconciles; a row altered directly
in the database fails the reconciliation with a finding that names exactly that row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.reconcile import CHECKS, reconcile
from points_engine.certification import serial
from tests.integration.reconcile.data import alter, certified_history, named, scalar

SHANTOU_1, SHANTOU_2, NANAO_1 = (
    "run_shantou_2026-11_000001",
    "run_shantou_2026-11_000002",
    "run_nanao_2026-11_000001",
)

FIRST_KEY = "SELECT first_partner_id || '/' || first_event_id FROM run_chunks WHERE run_id = :r"


@pytest.fixture
async def runs(platform):
    return {r["run_id"]: r for r in await certified_history(platform)}


class TestUntouched:
    async def test_certified_history_reconciles_and_every_check_looked_at_its_rows(self, platform, runs):
        seen = []
        report = await reconcile(platform.db, progress=lambda check, done, total: seen.append(check))

        assert report.ok, [str(f) for f in report.findings]
        assert report.finding_count == 0 and report.findings == ()
        assert list(report.checks) == list(CHECKS)
        # Nothing was spent and no campaign ran in this history: those checks have no rows to look at.
        idle = {"redemptions", "campaigns"}
        looked = {name: c for name, c in report.checks.items() if name not in idle}
        assert all(c.ok and c.checked > 0 for c in looked.values()), report.checks
        assert all(report.checks[name].ok for name in idle)
        assert report.checks["runs"].checked == 3
        assert report.checks["overlap"].checked >= sum(r["tree_size"] for r in runs.values())
        assert set(seen) == set(CHECKS)
        assert runs[SHANTOU_1]["tree_size"] == 1100 and runs[SHANTOU_2]["tree_size"] == 40

    async def test_the_report_keeps_the_chain_fields_and_adds_the_checks(self, platform, runs):
        report = (await reconcile(platform.db)).as_json()
        assert report["ok"] is True and report["rows"] == 3 and report["problems"] == []
        assert report["head"]["seq"] == 3
        assert report["checks"]["ledger"] == {"ok": True, "checked": report["checks"]["ledger"]["checked"],
                                              "findings": 0}  # fmt: skip
        totals = report["info"]["partners"]["transit_st"]
        assert totals["outcomes"] == totals["actions"] and totals["points"] == totals["settled_points"]


class TestAlteredRows:
    async def test_an_outcomes_grams_name_its_chunk_its_run_and_nothing_else(self, platform, runs):
        first_p, first_e = (
            await scalar(
                platform,
                FIRST_KEY + " AND chunk = 1",
                r=SHANTOU_1,
            )
        ).split("/")
        # an outcome inside chunk 1, not its first
        event = await scalar(
            platform,
            "SELECT min(event_id) FROM outcomes WHERE partner_id = :p AND event_id > :e AND book = 'shantou'",
            p=first_p,
            e=first_e,
        )
        await alter(
            platform,
            "UPDATE outcomes SET reduction_g = reduction_g + 1 WHERE partner_id = :p AND event_id = :e",
            p=first_p,
            e=event,
        )

        report = await reconcile(platform.db)

        assert not report.ok
        assert named(report) == {
            ("runs", "chunk-root", f"run {SHANTOU_1} chunk 1 ({first_p}/{first_e})"),
            ("runs", "root", f"run {SHANTOU_1}"),
            ("runs", "grams", f"run {SHANTOU_1}"),
        }

    async def test_a_runs_root_is_named(self, platform, runs):
        await alter(
            platform, "UPDATE certification_runs SET root = :h WHERE run_id = :r", h="ab" * 32, r=NANAO_1
        )
        report = await reconcile(platform.db)
        assert named(report) == {("runs", "root", f"run {NANAO_1}")}
        assert report.checks["runs"].findings == 1 and report.checks["ledger"].ok

    async def test_a_chunk_root_is_named_with_its_first_key(self, platform, runs):
        first = await scalar(
            platform,
            FIRST_KEY + " AND chunk = 0",
            r=SHANTOU_2,
        )
        await alter(
            platform,
            "UPDATE run_chunks SET root = :h WHERE run_id = :r AND chunk = 0",
            h="cd" * 32,
            r=SHANTOU_2,
        )
        report = await reconcile(platform.db)
        assert named(report) == {("runs", "chunk-root", f"run {SHANTOU_2} chunk 0 ({first})")}

    async def test_a_credit_ranges_last_tonne_is_named_and_the_tonne_it_dropped_is_a_gap(
        self, platform, runs
    ):
        serial, tonnes = await _range_of(platform, SHANTOU_1)
        await alter(platform, 'UPDATE credit_ranges SET "last" = "last" - 1 WHERE serial = :s', s=serial)
        report = await reconcile(platform.db)
        assert named(report) == {
            ("ranges", "serial-mismatch", f"range {serial}"),
            ("ranges", "range-gap", f"run {SHANTOU_1}"),
        }
        [gap] = [f for f in report.findings if f.code == "range-gap"]
        assert f"tonnes {tonnes}-{tonnes}" in gap.detail

    async def test_a_balance_shard_is_named_by_its_account(self, platform, runs):
        await alter(
            platform,
            "UPDATE ledger_balances SET balance = balance + 7 WHERE account = 'citizen:c_0003:available'",
        )
        report = await reconcile(platform.db)
        assert named(report) == {
            ("ledger", "balance", "account citizen:c_0003:available"),
            ("ledger", "sum", "ledger_balances"),
        }

    async def test_a_settle_transactions_amount_is_named_by_its_tx_id(self, platform, runs):
        tx_id = await scalar(
            platform,
            "SELECT tx_id FROM ledger_transactions WHERE kind = 'settle' AND cause = 'bike_st/ev-000001'",
        )
        await alter(platform, "UPDATE ledger_transactions SET amount = amount + 5 WHERE tx_id = :t", t=tx_id)
        report = await reconcile(platform.db)
        findings = named(report)
        assert ("ledger", "settle-mismatch", f"tx {tx_id}") in findings
        # and what follows from it: the two balances, and the partner's totals
        assert ("ledger", "balance", "account citizen:c_0001:pending") in findings
        assert ("ledger", "balance", "account issuance:shantou") in findings
        assert ("partners", "settle-totals", "partner bike_st") in findings
        assert {f[0] for f in findings} == {"ledger", "partners"}

    async def test_a_watermark_moved_back_over_the_previous_run_is_named(self, platform, runs):
        partition = await scalar(
            platform,
            "SELECT min(partition) FROM run_watermarks WHERE run_id = :r AND from_seq >= 3",
            r=SHANTOU_2,
        )
        await alter(
            platform,
            "UPDATE run_watermarks SET from_seq = from_seq - 3 WHERE run_id = :r AND partition = :p",
            r=SHANTOU_2,
            p=partition,
        )
        report = await reconcile(platform.db)
        findings = named(report)
        assert ("overlap", "window-overlap", f"watermark {SHANTOU_2} partition {partition}") in findings
        twice = [f for f in report.findings if f.code == "covered-twice"]
        assert len(twice) == 3 and all(f"runs {SHANTOU_1} and {SHANTOU_2}" in f.detail for f in twice)
        assert ("overlap", "coverage", "certification_runs") in findings
        assert ("runs", "tree-size", f"run {SHANTOU_2}") in findings

    async def test_an_audit_log_row_is_named_by_its_seq(self, platform, runs):
        await alter(platform, """UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2""")
        report = await reconcile(platform.db)
        assert named(report) == {("chain", "altered", "audit_log seq 2")}
        assert report.as_json()["problems"][0]["seq"] == 2


async def _range_of(platform, run_id: str) -> tuple[str, int]:
    serial = await scalar(platform, "SELECT serial FROM credit_ranges WHERE run_id = :r", r=run_id)
    tonnes = await scalar(platform, "SELECT tonnes FROM certification_runs WHERE run_id = :r", r=run_id)
    return serial, int(tonnes)


class TestRegistryAndIntake:
    async def test_split_ranges_reconcile_until_a_piece_overlaps_another(self, platform, runs):
        serial, tonnes = await _range_of(platform, SHANTOU_1)
        left, right = _piece(1, 10), _piece(11, tonnes)
        await alter(platform, "UPDATE credit_ranges SET status = 'split' WHERE serial = :s", s=serial)
        await _insert_piece(platform, left, 1, 10, serial, "active")
        await _insert_piece(platform, right, 11, tonnes, serial, "retired")
        assert (await reconcile(platform.db)).ok

        await alter(platform, 'UPDATE credit_ranges SET "first" = 9 WHERE serial = :s', s=right)
        report = await reconcile(platform.db)
        assert ("ranges", "range-overlap", f"range {right}") in named(report)
        assert ("ranges", "serial-mismatch", f"range {right}") in named(report)

    async def test_a_review_naming_a_run_must_approve_a_flagged_action_of_it(self, platform, runs):
        await alter(
            platform,
            "INSERT INTO reviews (partner_id, event_id, decision, reviewer, note, book, period, decided_at, "
            "run_id) VALUES ('transit_st', 'october', 'approved', 'r', '', 'shantou', '2026-11', "
            "CURRENT_TIMESTAMP, :r)",
            r=NANAO_1,
        )
        report = await reconcile(platform.db)
        assert ("overlap", "review-mismatch", "review transit_st/october") in named(report)

    async def test_an_old_unsettled_action_is_counted_and_a_finding_only_when_strict(self, platform, runs):
        await alter(
            platform, "DELETE FROM outcomes WHERE partner_id = 'transit_st' AND event_id = 'rejected-1'"
        )
        lenient = await reconcile(platform.db)
        assert lenient.ok and lenient.info["partners"]["transit_st"]["unsettled"] == 1
        strict = await reconcile(platform.db, strict=True)
        assert named(strict) == {("partners", "unsettled", "action transit_st/rejected-1")}

    async def test_an_outcome_without_an_accepted_action_is_named(self, platform, runs):
        await alter(platform, "DELETE FROM actions WHERE partner_id = 'waste_st' AND event_id = 'ev-000002'")
        report = await reconcile(platform.db)
        assert named(report) == {
            ("partners", "outcome-without-action", "outcome waste_st/ev-000002"),
            ("partners", "outcome-totals", "partner waste_st"),
        }


def _piece(first: int, last: int) -> str:
    return serial("shantou", 2026, 1, first, last)


async def _insert_piece(platform, piece: str, first: int, last: int, parent: str, status: str) -> None:
    retired = status == "retired"
    await alter(
        platform,
        'INSERT INTO credit_ranges (serial, run_id, book, vintage, run_number, "first", "last", account_id, '
        "status, parent, beneficiary, purpose, retired_at, created_at) VALUES (:s, :r, 'shantou', 2026, 1, "
        ":f, :l, 'nanao-pilot', :st, :p, :b, :pu, :at, :at)",
        s=piece,
        r=SHANTOU_1,
        f=first,
        l=last,
        st=status,
        p=parent,
        b="Nan'ao county" if retired else None,
        pu="neutrality 2026" if retired else None,
        at=datetime(2026, 11, 25, tzinfo=UTC),
    )
