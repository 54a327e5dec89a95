"""The demo as a newcomer meets it: the platform started on the embedded default, a week of traffic
through the partner API, then credits in both books, a retirement for the Nan'ao pilot and a proof
that the offline verifier accepts; `tanhui audit verify` passes, and names a row altered behind the
application's back."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import as_json

pytestmark = pytest.mark.timeout(900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(var: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    return {**env, "TANHUI_VAR_DIR": str(var), "TANHUI_PORT": str(port)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], str]]:
    var = tmp_path_factory.mktemp("demo-var")
    port = _free_port()
    env = _env(var, port)
    log = (var / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (var / "serve.log").read_text()
        time.sleep(0.3)
    yield var, env, base
    proc.terminate()
    proc.wait(30)


def _tanhui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args], env=env, capture_output=True, text=True, timeout=800
    )


def test_the_demo_ends_with_credits_in_both_books_a_retirement_and_a_verified_proof(served):
    var, env, base = served
    proc = _tanhui(env, "demo", "--citizens", "500", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = as_json(proc)
    assert summary["totals"]["accepted"] == summary["totals"]["actions"] > 10_000
    runs = summary["certification"]["runs"]
    for book in ("shantou", "nanao"):
        issued = [r for r in runs if r["run_id"].startswith(f"run_{book}_") and r["tonnes"] >= 1]
        assert issued and issued[0]["serial"].startswith(f"TH-{book.upper()}-"), runs
    retired = summary["certification"]["retirement"]
    assert retired["serial"].startswith("TH-NANAO-") and "Nan'ao" in retired["beneficiary"]
    proof = summary["certification"]["proof"]
    assert proof["verified"] is True and proof["run_id"] == retired["run_id"]

    # The public registry shows the retired tonne; the CLI verifier accepts the proof on its own.
    run = httpx.get(f"{base}/v1/registry/runs/{retired['run_id']}").json()
    assert run["root"] == proof["root"]
    document = httpx.get(f"{base}/v1/registry/proofs/{proof['partner_id']}/{proof['event_id']}").text
    (var / "proof.json").write_text(document)
    verify = subprocess.run(
        [sys.executable, "-m", "partners.sdk.proofs", str(var / "proof.json"), "--registry", base],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and verify.stdout.startswith("valid:"), verify.stderr

    # Then a citizen spent points at a demo merchant through the API alone, and it reconciled.
    spent = summary["shop"]["spent"]
    assert spent["available_after"] == spent["available_before"] - spent["points"] > -1
    assert spent["qr_png_bytes"] > 100 and spent["statement_reconciled"] is True

    # A second demo is idempotent: nothing new accepted, nothing certified twice.
    again = as_json(_tanhui(env, "demo", "--citizens", "500", "--json"))
    assert again["totals"]["accepted"] == 0 and again["certification"]["runs"] == []
    assert again["certification"]["retirement"]["serial"] == retired["serial"]


def test_audit_verify_passes_on_the_demo_and_names_a_row_altered_in_the_database(served):
    var, env, _ = served
    ok = _tanhui(env, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with sqlite3.connect(var / "tanhui.db") as db:
        partner, event = db.execute(
            "SELECT first_partner_id, first_event_id FROM run_chunks"
            " WHERE chunk = 0 AND run_id LIKE 'run_nanao_%'"
        ).fetchone()
        db.execute(
            "UPDATE outcomes SET reduction_g = reduction_g + 1 WHERE partner_id = ? AND event_id = ?",
            (partner, event),
        )
    bad = _tanhui(env, "audit", "verify")
    assert bad.returncode == 1
    assert "run_nanao_" in bad.stdout + bad.stderr, bad.stdout + bad.stderr
