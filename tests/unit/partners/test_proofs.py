"""The offline proof verifier: it accepts what the engine proves, and nothing that was tampered with.

The proofs are built with the engine's own functions (``points_engine.certification``); the
verifier (``partners.sdk.proofs``) shares no code with them, so agreement here is agreement on
the binding format of docs/proofs.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import partners.sdk.proofs as proofs_module
from partners.sdk import ProofError, VerifiedLeaf, verify_proof
from points_engine.certification import (
    audit_path_of_hashes,
    leaf_hash,
    leaf_order_key,
    leaf_record,
    proof_document,
    root_of_hashes,
)

REPO = Path(__file__).resolve().parents[3]
SHANGHAI = timezone(timedelta(hours=8))
RUN_ID = "run_nanao_2026-11_000003"


def make_run(n: int) -> tuple[list[bytes], list[bytes], bytes]:
    """A run of ``n`` actions of two partners, in leaf order: records, leaf hashes and root."""
    actions = [
        (("transit_st", "bike_st")[i % 2], f"ev-{i:05d}", f"c_{i % 7:04d}", 100 + 37 * i) for i in range(n)
    ]
    actions.sort(key=lambda a: leaf_order_key(a[0], a[1]))
    records = [
        leaf_record(
            book="nanao",
            citizen_id=citizen,
            event_id=event,
            methodology="trip.bus@2026.1",
            occurred_at=datetime(2026, 11, 24, 8, 15, tzinfo=SHANGHAI) + timedelta(minutes=i),
            partner_id=partner,
            reduction_g=grams,
        )
        for i, (partner, event, citizen, grams) in enumerate(actions)
    ]
    hashes = [leaf_hash(r) for r in records]
    return records, hashes, root_of_hashes(hashes)[0]


def make_proof(n: int = 5, index: int = 3) -> tuple[dict[str, Any], str]:
    """The proof of leaf ``index`` in a run of ``n``, as it travels (through JSON), and the root."""
    records, hashes, root = make_run(n)
    document = proof_document(
        run_id=RUN_ID,
        book="nanao",
        root=root,
        tree_size=n,
        leaf_index=index,
        leaf=records[index],
        audit_path=audit_path_of_hashes(hashes, index),
    )
    return json.loads(json.dumps(document)), root.hex()


def with_leaf(proof: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    record = json.loads(proof["leaf"])
    change(record)
    leaf = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**proof, "leaf": leaf}


def reason_of(proof: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ProofError) as raised:
        verify_proof(proof, *args, **kwargs)
    return raised.value.reason


class TestVerifyProof:
    @pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 33])
    def test_every_proof_of_a_run_built_by_the_engine_verifies_against_the_published_root(self, n):
        for index in range(n):
            proof, root = make_proof(n, index)
            assert verify_proof(proof, root, published_tree_size=n).leaf_index == index

    def test_the_verified_leaf_tells_which_action_is_in_which_run(self):
        proof, root = make_proof(5, 3)
        leaf = verify_proof(proof, root)
        record = json.loads(proof["leaf"])
        assert leaf == VerifiedLeaf(
            run_id=RUN_ID,
            book="nanao",
            root=root,
            tree_size=5,
            leaf_index=3,
            citizen_id=record["citizen_id"],
            event_id=record["event_id"],
            methodology="trip.bus@2026.1",
            occurred_at=datetime.strptime(record["occurred_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
            partner_id=record["partner_id"],
            reduction_g=record["reduction_g"],
            leaf_hash=leaf_hash(proof["leaf"].encode()).hex(),
        )

    def test_an_upper_case_published_root_is_the_same_root(self):
        proof, root = make_proof()
        assert verify_proof(proof, root.upper()).root == root

    def test_another_published_root_is_a_root_mismatch(self):
        proof, _ = make_proof()
        _, other = make_proof(6)
        assert reason_of(proof, other) == "root-mismatch"

    def test_a_published_root_that_is_not_a_hash_is_malformed(self):
        proof, root = make_proof()
        assert reason_of(proof, root[:-2]) == "malformed-root"

    def test_another_published_tree_size_is_a_tree_size_mismatch(self):
        """Leaf 0 of 3 has the same path as leaf 0 of 4: only the published size tells them apart."""
        proof, root = make_proof(3, 0)
        claimed = {**proof, "tree_size": 4}
        assert verify_proof(claimed, root).tree_size == 4
        assert reason_of(claimed, root, published_tree_size=3) == "tree-size-mismatch"

    def test_a_changed_reduction_no_longer_leads_to_the_root(self):
        proof, root = make_proof()
        assert reason_of(with_leaf(proof, lambda r: r.update(reduction_g=r["reduction_g"] + 1)), root) == (
            "path-mismatch"
        )

    def test_a_leaf_moved_to_another_index_no_longer_leads_to_the_root(self):
        proof, root = make_proof(5, 3)
        assert reason_of({**proof, "leaf_index": 2}, root) == "path-mismatch"

    def test_a_flipped_hash_in_the_path_no_longer_leads_to_the_root(self):
        proof, root = make_proof()
        first = proof["audit_path"][0]
        path = [("0" if first[0] != "0" else "1") + first[1:], *proof["audit_path"][1:]]
        assert reason_of({**proof, "audit_path": path}, root) == "path-mismatch"

    def test_a_proof_with_its_own_root_replaced_fails_even_without_a_published_root(self):
        proof, _ = make_proof()
        assert reason_of({**proof, "root": "00" * 32}) == "path-mismatch"

    def test_a_leaf_of_another_book_than_the_proof_is_a_book_mismatch(self):
        proof, root = make_proof()
        assert reason_of({**proof, "book": "shantou"}, root) == "book-mismatch"

    @pytest.mark.parametrize(
        "rewrite",
        [
            pytest.param(lambda s: s.replace(",", ", "), id="whitespace"),
            pytest.param(lambda s: json.dumps(json.loads(s)), id="default-json-dumps"),
            pytest.param(
                lambda s: '{"reduction_g":174,' + s[1:].replace(',"reduction_g":174', ""), id="unsorted"
            ),
            pytest.param(lambda s: s[:-1] + ',"region":"440523"}', id="extra-field"),
            pytest.param(lambda s: s.replace('"book":"nanao",', ""), id="missing-field"),
            pytest.param(lambda s: s.replace('"reduction_g":174', '"reduction_g":174.0'), id="float-grams"),
            pytest.param(lambda s: s.replace('"reduction_g":174', '"reduction_g":"211"'), id="string-grams"),
            pytest.param(lambda s: s.replace("Z", "+00:00"), id="offset-not-z"),
            pytest.param(lambda s: s.replace(":00Z", ":00.000Z"), id="sub-seconds"),
            pytest.param(lambda s: s.replace("2026-11", "2026-13"), id="no-such-month"),
            pytest.param(lambda s: s.replace("c_", "\\u0063_"), id="escaped-ascii"),
            pytest.param(lambda s: s[:-1] + ',"book":"nanao"}', id="duplicate-key"),
            pytest.param(lambda s: s + " ", id="trailing-space"),
            pytest.param(lambda s: "[" + s + "]", id="not-an-object"),
            pytest.param(lambda s: s[:-1], id="not-json"),
        ],
    )
    def test_a_leaf_that_is_not_the_canonical_record_is_refused(self, rewrite):
        proof, root = make_proof(5, 3)
        assert '"reduction_g":174' in proof["leaf"]
        assert reason_of({**proof, "leaf": rewrite(proof["leaf"])}, root) == "non-canonical-leaf"

    def test_a_leaf_with_non_ascii_escaped_is_not_canonical(self):
        proof, _ = make_proof(5, 3)
        record = {**json.loads(proof["leaf"]), "citizen_id": "c_汕头"}
        escaped = json.dumps(record, sort_keys=True, separators=(",", ":"))
        assert "\\u6c55" in escaped
        assert reason_of({**proof, "leaf": escaped}) == "non-canonical-leaf"

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda p: p.pop("audit_path"), id="no-path"),
            pytest.param(lambda p: p.update(audit_path="ab" * 32), id="path-not-a-list"),
            pytest.param(lambda p: p.update(audit_path=["ab" * 31]), id="short-hash"),
            pytest.param(lambda p: p.update(audit_path=["zz" * 32]), id="not-hex"),
            pytest.param(lambda p: p.update(root=None), id="no-root"),
            pytest.param(lambda p: p.update(leaf_index=5), id="index-past-the-end"),
            pytest.param(lambda p: p.update(leaf_index=-1), id="negative-index"),
            pytest.param(lambda p: p.update(tree_size=True), id="bool-size"),
            pytest.param(lambda p: p.update(tree_size="5"), id="string-size"),
            pytest.param(lambda p: p.update(run_id=""), id="empty-run-id"),
            pytest.param(lambda p: p.update(leaf={"book": "nanao"}), id="leaf-not-a-string"),
        ],
    )
    def test_a_malformed_proof_is_refused_as_such(self, change):
        proof, root = make_proof(5, 3)
        change(proof)
        assert reason_of(proof, root) == "malformed-proof"

    def test_a_proof_that_is_not_an_object_is_malformed(self):
        assert reason_of(["not", "a", "proof"]) == "malformed-proof"


class TestStandalone:
    def test_importing_the_verifier_loads_nothing_of_the_engine_or_backend(self):
        code = (
            "import sys, partners.sdk.proofs; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'points_engine', 'backend'}))"
        )
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        assert result.stdout.strip() == "[]", result.stderr

    def test_the_module_copied_alone_checks_a_proof(self, tmp_path):
        proof, root = make_proof()
        (tmp_path / "proof.json").write_text(json.dumps(proof), encoding="utf-8")
        shutil.copy(proofs_module.__file__, tmp_path / "verify.py")
        result = subprocess.run(
            [sys.executable, "-I", "verify.py", "proof.json", "--root", root],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("valid: ")


class Registry:
    """A stand-in for the public registry: answers GET /v1/registry/runs/{run_id} from `runs`."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        runs = self.runs

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix = "/v1/registry/runs/"
                body = runs.get(self.path[len(prefix) :]) if self.path.startswith(prefix) else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body or {"title": "Not Found"}).encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def registry() -> Iterator[Registry]:
    registry = Registry()
    thread = threading.Thread(target=registry.server.serve_forever, daemon=True)
    thread.start()
    yield registry
    registry.server.shutdown()
    registry.server.server_close()


class TestCli:
    def run(self, tmp_path: Path, proof: Any, *args: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "proof.json"
        path.write_text(json.dumps(proof) if not isinstance(proof, str) else proof, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        return subprocess.run(
            [sys.executable, "-m", "partners.sdk.proofs", str(path), *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_a_valid_proof_against_its_published_root_exits_0(self, tmp_path):
        proof, root = make_proof(5, 3)
        result = self.run(tmp_path, proof, "--root", root)
        assert result.returncode == 0, result.stderr
        assert f"is leaf 3 of 5 in run {RUN_ID} (nanao)" in result.stdout
        assert "checked against the root given" in result.stdout

    def test_another_root_exits_1_with_the_reason(self, tmp_path):
        proof, _ = make_proof(5, 3)
        result = self.run(tmp_path, proof, "--root", "ab" * 32)
        assert result.returncode == 1
        assert result.stderr.startswith("invalid: root-mismatch: ")

    def test_a_tampered_leaf_exits_1_with_the_reason(self, tmp_path):
        proof, root = make_proof(5, 3)
        proof["leaf"] = proof["leaf"].replace('"reduction_g":174', '"reduction_g":1740')
        result = self.run(tmp_path, proof, "--root", root)
        assert result.returncode == 1
        assert result.stderr.startswith("invalid: path-mismatch: ")

    def test_without_a_published_root_it_says_it_checked_only_the_proofs_own(self, tmp_path):
        proof, _ = make_proof()
        result = self.run(tmp_path, proof)
        assert result.returncode == 0
        assert "the proof's own root only" in result.stdout

    def test_a_file_that_is_not_json_exits_1(self, tmp_path):
        result = self.run(tmp_path, "{not json")
        assert result.returncode == 1
        assert result.stderr.startswith("invalid: malformed-proof: ")

    def test_the_registry_root_and_size_are_what_the_proof_is_checked_against(self, tmp_path, registry):
        proof, root = make_proof(5, 3)
        registry.runs[RUN_ID] = {"run_id": RUN_ID, "book": "nanao", "root": root, "tree_size": 5}
        result = self.run(tmp_path, proof, "--registry", registry.url)
        assert result.returncode == 0, result.stderr
        assert f"checked against the registry at {registry.url}" in result.stdout

    @pytest.mark.parametrize(
        ("published", "reason"),
        [
            ({"root": "ab" * 32}, "root-mismatch"),
            ({"tree_size": 6}, "tree-size-mismatch"),
            ({"book": "shantou"}, "registry-mismatch"),
            ({"root": None}, "registry-mismatch"),
        ],
    )
    def test_a_registry_that_published_something_else_exits_1(self, tmp_path, registry, published, reason):
        proof, root = make_proof(5, 3)
        registry.runs[RUN_ID] = {"run_id": RUN_ID, "book": "nanao", "root": root, "tree_size": 5, **published}
        result = self.run(tmp_path, proof, "--registry", registry.url)
        assert result.returncode == 1
        assert result.stderr.startswith(f"invalid: {reason}: ")

    def test_a_run_the_registry_does_not_know_exits_1(self, tmp_path, registry):
        proof, _ = make_proof()
        result = self.run(tmp_path, proof, "--registry", registry.url)
        assert result.returncode == 1
        assert result.stderr.startswith("invalid: unknown-run: ")

    def test_root_and_registry_together_are_a_usage_error(self, tmp_path):
        proof, root = make_proof()
        result = self.run(tmp_path, proof, "--root", root, "--registry", "http://127.0.0.1:9")
        assert result.returncode == 2
