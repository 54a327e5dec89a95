"""The ``tanhui`` CLI as an operator runs it: real processes, the embedded default, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def tanhui(var: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env["TANHUI_VAR_DIR"] = str(var)
    proc = subprocess.run(
        [sys.executable, "-m", "backend", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-var")


class TestPartnerCommands:
    def test_create_prints_the_new_key_once_and_list_never_shows_it(self, var: Path) -> None:
        created = as_json(tanhui(var, "partner", "create", "transit_st", "--types", "trip",
                                 "--regions", "440507,440523", "--json"))  # fmt: skip
        assert created["partner_id"] == "transit_st" and created["key_id"] == "k1"
        assert created["secret"].startswith("tsk_live_")
        listing = tanhui(var, "partner", "list", "--json")
        assert created["secret"] not in listing.stdout
        [partner] = as_json(listing)
        assert partner["types"] == ["trip"] and partner["regions"] == ["440507", "440523"]

    def test_secrets_are_not_stored_in_plain_text(self, var: Path) -> None:
        created = as_json(tanhui(var, "partner", "create", "bike_st", "--types", "trip",
                                 "--regions", "440507", "--json"))  # fmt: skip
        assert created["secret"].encode() not in (var / "tanhui.db").read_bytes()

    def test_rotate_then_revoke_keeps_one_live_key(self, var: Path) -> None:
        tanhui(var, "partner", "create", "waste_st", "--types", "waste_sorting", "--regions", "440511")
        rotated = as_json(tanhui(var, "partner", "rotate-key", "waste_st", "--json"))
        assert rotated["key_id"] == "k2"
        refused = tanhui(var, "partner", "rotate-key", "waste_st", ok=False)
        assert refused.returncode == 2 and "too-many-keys" in refused.stderr
        tanhui(var, "partner", "revoke-key", "waste_st", "k1")
        [partner] = [
            p for p in as_json(tanhui(var, "partner", "list", "--json")) if p["partner_id"] == "waste_st"
        ]
        assert {k["key_id"]: k["status"] for k in partner["keys"]} == {"k1": "revoked", "k2": "active"}

    def test_bad_input_is_a_clear_error_not_a_traceback(self, var: Path) -> None:
        proc = tanhui(var, "partner", "create", "Bad-Id", "--types", "trip", "--regions", "440507", ok=False)
        assert proc.returncode == 2 and "invalid-request" in proc.stderr and "Traceback" not in proc.stderr

    def test_set_webhook_prints_its_secret(self, var: Path) -> None:
        tanhui(var, "partner", "create", "canteen_st", "--types", "clean_plate", "--regions", "440507")
        out = as_json(
            tanhui(var, "partner", "set-webhook", "canteen_st", "https://canteen.example/hook", "--json")
        )
        assert out["secret"].startswith("whsec_")


def test_token_mints_a_verifiable_operator_jwt(var: Path) -> None:
    import jwt

    out = as_json(tanhui(var, "token", "--role", "auditor", "--sub", "li.auditor", "--json"))
    key = json.loads((var / "secrets.json").read_text())["jwt_key"]
    claims = jwt.decode(out["access_token"], key, algorithms=["HS256"], audience="tanhui:console")
    assert claims["role"] == "auditor" and claims["sub"] == "li.auditor" and claims["exp"] > claims["iat"]
