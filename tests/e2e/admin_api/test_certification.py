"""/v1/admin/certification/runs and /v1/admin/reviews: administrators start runs and decide on
flagged actions; every other caller is refused and changes nothing; bad input is a clear problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.context import Platform
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem, count_rows
from tests.e2e.test_cli import as_json, tanhui
from tests.integration.certification.seed import Seeded, balance, seed
from tests.integration.certification.test_runs import NOV, actions

RUNS = "/v1/admin/certification/runs"
REVIEWS = "/v1/admin/reviews"
NOVEMBER = {"book": "shantou", "period": "2026-11"}


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform)


async def test_an_admin_starts_a_run_and_a_second_one_finds_nothing_new(http, platform, admin):
    await seed(platform, actions(12))
    response = await http.post(RUNS, json=NOVEMBER, headers=admin)
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["run_id"] == "run_shantou_2026-11_000001" and run["tree_size"] == 12
    assert run["status"] == "complete" and run["actor"] == "op_admin"
    assert type(run["reduction_g"]) is int and type(run["tonnes"]) is int
    assert (await http.get(f"{RUNS}/{run['run_id']}", headers=admin)).json() == run

    assert_problem(await http.post(RUNS, json=NOVEMBER, headers=admin), 409, "nothing-to-certify")
    assert await count_rows(platform, "certification_runs") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"book": "shantou", "period": "2999-01"}, 422, "period-not-begun"),
        ({"book": "shantou", "period": "2026-13"}, 422, "invalid-period"),
        ({"book": "shantou", "period": "november"}, 422, "invalid-period"),
        ({"book": "guangzhou", "period": "2026-11"}, 422, "invalid-request"),
        ({"book": "shantou"}, 422, "invalid-request"),
        ({**NOVEMBER, "extra": 1}, 422, "invalid-request"),
    ],
)
async def test_bad_runs_are_refused_and_issue_nothing(http, platform, admin, body, status, code):
    await seed(platform, actions(3))
    assert_problem(await http.post(RUNS, json=body, headers=admin), status, code)
    assert await count_rows(platform, "certification_runs") == 0
    assert await count_rows(platform, "credit_ranges") == 0


async def test_an_unknown_run_is_a_404(http, admin):
    assert_problem(await http.get(f"{RUNS}/run_shantou_2026-11_000009", headers=admin), 404, "unknown-run")


ENDPOINTS = [
    ("POST", RUNS, NOVEMBER),
    ("GET", f"{RUNS}/run_shantou_2026-11_000001", None),
    ("GET", REVIEWS, None),
    ("POST", REVIEWS, {"partner_id": "transit_st", "event_id": "flagged-1", "decision": "approved"}),
]
READS = {"GET"}  # auditors read runs and reviews; only admins start runs and decide


def _refused(method: str, caller: str) -> bool:
    return not (method in READS and caller == "an auditor token")


@pytest.mark.parametrize(("method", "path", "payload"), ENDPOINTS)
@pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
async def test_only_an_admin_may_certify_or_review_and_auditors_may_read(
    http, platform, method, path, payload, caller, headers, status, code
):
    await seed(
        platform, [*actions(3), Seeded("transit_st", "flagged-1", "c_0001", NOV, 5000, 500, flagged=True)]
    )
    response = await http.request(method, path, json=payload, headers=headers(platform))
    if _refused(method, caller):
        assert_problem(response, status, code)
    elif path == REVIEWS:
        assert response.status_code == 200 and [r["event_id"] for r in response.json()] == ["flagged-1"]
    else:
        assert_problem(response, 404, "unknown-run")  # an auditor may read it: there is none yet
    assert await count_rows(platform, "certification_runs") == 0
    assert await count_rows(platform, "reviews") == 0


async def test_an_approved_flag_is_certified_by_the_next_run_and_a_rejected_one_voids_its_points(
    http, platform, admin
):
    flagged = [
        Seeded("transit_st", "flagged-1", "c_0001", NOV, 5000, 500, flagged=True),
        Seeded("transit_st", "flagged-2", "c_0002", NOV, 7000, 700, flagged=True),
    ]
    await seed(platform, [*actions(4), *flagged])
    first = (await http.post(RUNS, json=NOVEMBER, headers=admin)).json()
    assert first["tree_size"] == 4  # flagged actions wait
    waiting = (await http.get(REVIEWS, headers=admin)).json()
    assert [w["event_id"] for w in waiting] == ["flagged-1", "flagged-2"]

    approve = {"partner_id": "transit_st", "event_id": "flagged-1", "decision": "approved", "note": "ok"}
    reject = {"partner_id": "transit_st", "event_id": "flagged-2", "decision": "rejected"}
    assert (await http.post(REVIEWS, json=approve, headers=admin)).status_code == 201
    rejected = await http.post(REVIEWS, json=reject, headers=admin)
    assert rejected.status_code == 201 and rejected.json()["points_voided"] == 700
    assert await balance(platform, "citizen:c_0002:pending") == 0  # its other points were certified
    assert await balance(platform, "citizen:c_0002:available") == sum(
        i.points for i in actions(4) if i.citizen_id == "c_0002"
    )
    assert await balance(platform, "void:shantou") == 700
    assert (await http.get(REVIEWS, headers=admin)).json() == []

    second = (await http.post(RUNS, json=NOVEMBER, headers=admin)).json()
    assert (second["tree_size"], second["reduction_g"]) == (1, 5000)
    proof = await http.get("/v1/registry/proofs/transit_st/flagged-1")
    assert proof.status_code == 200 and proof.json()["run_id"] == second["run_id"]
    assert_problem(await http.get("/v1/registry/proofs/transit_st/flagged-2"), 404, "action-not-certified")

    assert_problem(await http.post(REVIEWS, json=approve, headers=admin), 409, "already-reviewed")
    ordinary = {"partner_id": "transit_st", "event_id": "ev-000000", "decision": "rejected"}
    assert_problem(await http.post(REVIEWS, json=ordinary, headers=admin), 409, "not-reviewable")
    unknown = {"partner_id": "transit_st", "event_id": "nope", "decision": "rejected"}
    assert_problem(await http.post(REVIEWS, json=unknown, headers=admin), 404, "action-not-found")
    actions_logged = [e["action"] for e in (await http.get("/v1/audit/log", headers=admin)).json()["items"]]
    assert actions_logged == ["certification.run", "review.approved", "review.rejected", "certification.run"]


def test_the_cli_says_when_there_is_nothing_to_certify_and_refuses_bad_periods(tmp_path: Path) -> None:
    nothing = as_json(tanhui(tmp_path, "certify", "--book", "nanao", "--period", "2026-11", "--json"))
    assert nothing["issued"] is False and "2026-11" in nothing["detail"]
    future = tanhui(tmp_path, "certify", "--book", "nanao", "--period", "2999-01", ok=False)
    assert future.returncode == 2 and "period-not-begun" in future.stderr
    bad = tanhui(tmp_path, "certify", "--book", "nanao", "--period", "2026-1", ok=False)
    assert bad.returncode == 2 and "invalid-period" in bad.stderr
