"""/v1/audit/pilot/report and /v1/audit/exports/{name}.{csv|xlsx}: auditors (and admins) download the
Nan'ao pilot's report and the registry's tables as JSON, CSV and XLSX, which say the same thing as
each other and as the seeded world; CSV streams; nobody else reads them, and reading changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from backend.context import Platform
from backend.models import CreditRange
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import make_partner
from tests.integration.reports.seed import YEAR, build_world, expected_report, expected_runs, expected_totals
from tests.integration.reports.test_pilot_report import without_volatile

REPORT = "/v1/audit/pilot/report"
EXPORTS = "/v1/audit/exports"
NAMES = ["runs", "ranges", "retirements", "partners", "methodologies"]
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def auditor(platform: Platform) -> dict[str, str]:
    return bearer(platform, "auditor")


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def parse_xlsx(response: httpx.Response) -> list[list[str]]:
    """The workbook's one sheet, as the CSV shows each value (empty for none, ' before a formula start)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_TYPE
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    [sheet] = book.worksheets
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    width = len(rows[0])
    return [[as_csv(v) for v in r + [None] * (width - len(r))] for r in rows]


def as_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    assert isinstance(value, str | int), value  # no float ever reaches a sheet
    return str(value)


def filename(response: httpx.Response) -> str:
    kind, _, name = response.headers["content-disposition"].partition("; filename=")
    assert kind == "attachment"
    return name.strip('"')


def records(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


class TestPilotReport:
    async def test_json_csv_and_xlsx_tell_the_same_year_and_it_is_the_seeded_one(
        self, http, platform, auditor
    ):
        """The report of 2026 against the numbers computed from the seeded outcomes and pieces alone."""
        # given
        world = await build_world(platform)
        put = await http.put(
            f"/v1/admin/pilot/targets/{YEAR}", json={"target_t": 9}, headers=bearer(platform)
        )
        assert put.status_code == 200
        # when
        as_json = await http.get(REPORT, params={"year": YEAR}, headers=auditor)
        as_csv_ = await http.get(REPORT, params={"year": YEAR, "format": "csv"}, headers=auditor)
        as_xlsx = await http.get(REPORT, params={"year": YEAR, "format": "xlsx"}, headers=auditor)
        # then
        assert as_json.status_code == 200, as_json.text
        doc = as_json.json()
        assert without_volatile(doc) == expected_report(world)
        assert doc["progress"] == {"per_mille": 555, "percent": "55.5%"}
        rows = parse_csv(as_csv_)
        assert rows[0] == ["section", "key", "metric", "value"]
        timeless = [r for r in rows if r[2] != "generated_at"]
        assert timeless == [r for r in parse_xlsx(as_xlsx) if r[2] != "generated_at"]
        assert len(timeless) == len(rows) - 1
        flat = {(s, k, m): v for s, k, m, v in rows[1:]}
        assert flat[("report", "", "year")] == "2026" and flat[("report", "", "target_t")] == "9"
        assert flat[("credits", "", "retired_for_pilot_t")] == "5"
        assert flat[("progress", "", "percent")] == "55.5%"
        for month in doc["reductions"]["by_month"]:
            assert flat[("reductions.by_month", month["month"], "grams")] == str(month["grams"])
        for run in doc["certified"]["runs"]:
            assert flat[("certified.runs", run["run_id"], "tonnes")] == str(run["tonnes"])
        assert (filename(as_csv_), filename(as_xlsx)) == (
            "tanhui-nanao-pilot-2026.csv",
            "tanhui-nanao-pilot-2026.xlsx",
        )

    @pytest.mark.parametrize(
        "params",
        [{}, {"year": 1999}, {"year": 9999}, {"year": "2026-01"}, {"year": YEAR, "format": "pdf"}],
        ids=["no year", "1999", "9999", "a month", "a format of another kind"],
    )
    async def test_a_bad_year_or_format_is_an_invalid_request(self, http, auditor, params):
        assert_problem(await http.get(REPORT, params=params, headers=auditor), 422, "invalid-request")


class TestExports:
    @pytest.mark.parametrize("name", NAMES)
    async def test_csv_and_xlsx_of_each_export_hold_the_same_rows(self, http, platform, auditor, name):
        await build_world(platform)
        await make_partner(platform, "transit_st")

        as_csv_ = await http.get(f"{EXPORTS}/{name}.csv", headers=auditor)
        as_xlsx = await http.get(f"{EXPORTS}/{name}.xlsx", headers=auditor)

        rows = parse_csv(as_csv_)
        assert len(rows) > 1 and rows == parse_xlsx(as_xlsx)
        stem = filename(as_csv_).removesuffix(".csv")
        assert stem.startswith(f"tanhui-{name}-20") and filename(as_xlsx) == f"{stem}.xlsx"

    async def test_runs_carry_their_numbers(self, http, platform, auditor):
        world = await build_world(platform)
        got = records(parse_csv(await http.get(f"{EXPORTS}/runs.csv", headers=auditor)))
        want = expected_runs(world, "nanao") + expected_runs(world, "shantou")
        assert [{k: r[k] for k in want[0]} for r in got] == [{k: str(v) for k, v in w.items()} for w in want]
        assert [r["serial"] for r in got] == [world.runs[r["run_id"]].serial for r in got]

    async def test_partners_carry_their_totals_and_names(self, http, platform, auditor):
        world = await build_world(platform)
        await make_partner(platform, "transit_st")
        got = records(parse_csv(await http.get(f"{EXPORTS}/partners.csv", headers=auditor)))
        columns = [
            "actions",
            "credited",
            "capped",
            "rejected",
            "flagged",
            "reduction_g",
            "points",
            "certified_g",
        ]
        assert {r["partner_id"]: tuple(int(r[c]) for c in columns) for r in got} == expected_totals(
            world, "partner_id"
        )
        assert {r["partner_id"]: r["name"] for r in got} == {
            "bike_st": "",
            "transit_st": "transit_st",
            "waste_st": "",
        }

    async def test_a_retirement_naming_a_formula_is_text_in_both_formats(self, http, platform, auditor):
        await build_world(platform)
        as_csv_ = await http.get(f"{EXPORTS}/retirements.csv", headers=auditor)
        as_xlsx = await http.get(f"{EXPORTS}/retirements.xlsx", headers=auditor)
        beneficiaries = [r["beneficiary"] for r in records(parse_csv(as_csv_))]
        assert '\'=HYPERLINK("https://x.example")' in beneficiaries
        sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
        cells = [c for row in sheet.iter_rows() for c in row if c.value == '=HYPERLINK("https://x.example")']
        assert [c.data_type for c in cells] == ["s"]

    async def test_a_long_csv_is_sent_in_parts_as_it_is_read(self, app, platform):
        """2,500 pieces leave in several body messages (1,000 rows each), not as one buffered body."""
        async with platform.db.transaction() as tx:
            await tx.conn.execute(
                insert(CreditRange),
                [
                    {
                        "serial": f"TH-NANAO-2026-000001-{i:09d}-{i:09d}",
                        "run_id": "run_nanao_2026-01_000001",
                        "book": "nanao",
                        "vintage": 2026,
                        "run_number": 1,
                        "first": i,
                        "last": i,
                        "account_id": "nanao",
                        "status": "active",
                        "created_at": tx.started_at,
                    }
                    for i in range(1, 2501)
                ],
            )
        messages = await asgi_get(app, f"{EXPORTS}/ranges.csv", bearer(platform, "auditor"))
        bodies = [m for m in messages if m["type"] == "http.response.body" and m.get("body")]
        assert messages[0]["status"] == 200 and len(bodies) >= 3
        text = b"".join(m["body"] for m in bodies).decode()
        assert len(list(csv.reader(io.StringIO(text)))) == 2501

    @pytest.mark.parametrize(
        "path",
        ["outcomes.csv", "citizens.xlsx", "runs.json", "runs.pdf", "runs.CSV", "..%2Fsecrets.csv", "runs"],
    )
    async def test_an_unknown_export_or_format_is_not_found(self, http, auditor, path):
        assert_problem(await http.get(f"{EXPORTS}/{path}", headers=auditor), 404, "not-found")


async def asgi_get(app: Any, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """GET ``path`` straight through the ASGI interface, keeping every message the app sends."""
    sent: list[dict[str, Any]] = []
    requested, done = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not requested.is_set():
            requested.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the whole answer is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()] + [(b"host", b"tanhui.test")],
        "client": ("127.0.0.1", 1234),
        "server": ("tanhui.test", 80),
    }
    await app(scope, receive, send)
    return sent


ROUTES = [
    f"{REPORT}?year=2026",
    f"{REPORT}?year=2026&format=csv",
    f"{REPORT}?year=2026&format=xlsx",
    *(f"{EXPORTS}/{n}.{f}" for n in NAMES for f in ("csv", "xlsx")),
]
REFUSED = [c for c in CALLERS if c[0] != "an auditor token"]


class TestAuthorisation:
    @pytest.mark.parametrize("path", ROUTES)
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), REFUSED, ids=[c[0] for c in REFUSED])
    async def test_only_auditors_and_admins_may_read(
        self, http, platform, path, caller, headers, status, code
    ):
        assert_problem(await http.get(path, headers=headers(platform)), status, code)

    @pytest.mark.parametrize("path", ROUTES)
    @pytest.mark.parametrize("role", ["auditor", "admin"])
    async def test_auditors_and_admins_may(self, http, platform, path, role):
        assert (await http.get(path, headers=bearer(platform, role))).status_code == 200

    @pytest.mark.parametrize("path", [ROUTES[0], f"{EXPORTS}/runs.csv"])
    async def test_a_correctly_signed_partner_request_is_not_a_bearer_token(self, http, platform, path):
        creds = await make_partner(platform, "transit_st")
        assert_problem(await signed(http, creds, "GET", path), 401, "invalid-token")

    async def test_an_auditor_reads_everything_and_changes_nothing(self, http, platform, auditor):
        # given
        await build_world(platform)
        assert (
            await http.put("/v1/admin/pilot/targets/2026", json={"target_t": 9}, headers=bearer(platform))
        ).status_code == 200
        tables = (
            "outcomes",
            "certification_runs",
            "credit_ranges",
            "registry_accounts",
            "pilot_targets",
            "audit_log",
        )
        before = {t: await count_rows(platform, t) for t in tables}
        # when
        for path in ROUTES:
            assert (await http.get(path, headers=auditor)).status_code == 200
        assert_problem(
            await http.put("/v1/admin/pilot/targets/2026", json={"target_t": 1}, headers=auditor),
            403,
            "forbidden",
        )
        for method in ("POST", "PUT", "DELETE"):
            for path in (REPORT, f"{EXPORTS}/runs.csv"):
                assert_problem(await http.request(method, path, headers=auditor), 405, "method-not-allowed")
        # then
        assert {t: await count_rows(platform, t) for t in tables} == before
        [target] = (await http.get("/v1/admin/pilot/targets", headers=auditor)).json()
        assert target["target_t"] == 9
