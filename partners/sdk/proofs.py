"""Check that an action is inside a certified credit block of Tanhui, offline and without our code.

A certification run's tree is the RFC 6962 Merkle Tree Hash over the canonical records of its
actions (docs/proofs.md). This module re-implements the few lines needed to check a proof with
the Python standard library alone (httpx only to ask the registry), so it can be copied anywhere::

    from partners.sdk import ProofError, verify_proof

    leaf = verify_proof(proof, published_root_hex="9f1c…")   # the run's root from the registry
    print(leaf.event_id, leaf.reduction_g, "is in run", leaf.run_id)

or from a shell, exit status 0 when the proof holds and 1 (with the reason) when it does not::

    tanhui-verify proof.json --registry https://api.tanhui.example
    python -m partners.sdk.proofs proof.json --root 9f1c…

A proof only shows what its root commits to: check the root (and the tree size) against the
public registry, or a root you trust, not just against the proof itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import quote

__all__ = ["LEAF_FIELDS", "ProofError", "VerifiedLeaf", "fetch_published_run", "main", "verify_proof"]

LEAF_FIELDS = ("book", "citizen_id", "event_id", "methodology", "occurred_at", "partner_id", "reduction_g")
_TEXT_FIELDS = ("book", "citizen_id", "event_id", "methodology", "partner_id")
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_OWN_ROOT_ONLY = "the proof's own root only (pass --root or --registry to check the published one)"
_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class ProofError(Exception):
    """A proof that does not hold; ``reason`` is a stable code such as ``root-mismatch``.

    Reasons: ``malformed-proof``, ``malformed-root``, ``non-canonical-leaf``, ``book-mismatch``,
    ``path-mismatch``, ``root-mismatch``, ``tree-size-mismatch``, and from the registry
    ``unknown-run``, ``registry-mismatch``, ``registry-unavailable``.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}" if message else reason)


@dataclass(frozen=True)
class VerifiedLeaf:
    """An action proven to be leaf ``leaf_index`` of the ``tree_size`` leaves under ``root``."""

    run_id: str
    book: str
    root: str
    tree_size: int
    leaf_index: int
    citizen_id: str
    event_id: str
    methodology: str
    occurred_at: datetime
    partner_id: str
    reduction_g: int
    leaf_hash: str


def verify_proof(
    proof: Mapping[str, Any],
    published_root_hex: str | None = None,
    *,
    published_tree_size: int | None = None,
) -> VerifiedLeaf:
    """The action a proof shows inside its run; raises ProofError if any part of it fails.

    Checks that ``leaf`` is the canonical record (exactly the seven fields, keys sorted, no
    whitespace, UTF-8), that the audit path leads from it to ``root``, and, when given, that
    ``root`` and ``tree_size`` are the ones the registry published.
    """
    run_id, book, root, size, index, leaf, path = _read_proof(proof)
    record = _canonical_record(leaf)
    if record["book"] != book:
        raise ProofError("book-mismatch", f"the leaf is of book {record['book']!r}, the proof of {book!r}")
    leaf_bytes = leaf.encode()
    if _root_from_path(leaf_bytes, index, size, path) != root:
        raise ProofError("path-mismatch", f"the audit path does not lead from leaf {index} of {size} to root")
    if published_root_hex is not None and _hash(published_root_hex, "malformed-root", "root") != root:
        raise ProofError("root-mismatch", f"the proof's root is not the published root of run {run_id}")
    if published_tree_size is not None and published_tree_size != size:
        message = f"the proof says {size} leaves, the registry {published_tree_size}"
        raise ProofError("tree-size-mismatch", message)
    return VerifiedLeaf(
        run_id=run_id,
        book=book,
        root=root.hex(),
        tree_size=size,
        leaf_index=index,
        citizen_id=record["citizen_id"],
        event_id=record["event_id"],
        methodology=record["methodology"],
        occurred_at=datetime.strptime(record["occurred_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        partner_id=record["partner_id"],
        reduction_g=record["reduction_g"],
        leaf_hash=hashlib.sha256(b"\x00" + leaf_bytes).hexdigest(),
    )


def fetch_published_run(registry_url: str, run_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The registry's public record of a run (``GET {registry_url}/v1/registry/runs/{run_id}``)."""
    import httpx  # only here, so that checking against a given root needs nothing but Python

    url = f"{registry_url.rstrip('/')}/v1/registry/runs/{quote(run_id, safe='')}"
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as error:
        raise ProofError("registry-unavailable", f"GET {url}: {error}") from error
    if response.status_code == 404:
        raise ProofError("unknown-run", f"the registry at {registry_url} has no run {run_id!r}")
    if response.status_code != 200:
        raise ProofError("registry-unavailable", f"GET {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as error:
        raise ProofError("registry-unavailable", f"GET {url} did not answer JSON") from error
    if not isinstance(body, dict) or body.get("run_id") != run_id:
        raise ProofError("registry-mismatch", f"GET {url} did not answer the record of run {run_id!r}")
    return body


def main(argv: Sequence[str] | None = None) -> int:
    """``tanhui-verify PROOF.json [--root HEX | --registry URL]``: 0 if the proof holds, else 1."""
    parser = argparse.ArgumentParser(prog="tanhui-verify", description=main.__doc__)
    parser.add_argument("proof", help="the proof JSON file, or - for standard input")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--root", metavar="HEX", help="the run's root as published (64 hex digits)")
    source.add_argument("--registry", metavar="URL", help="the registry to take the run's root from")
    args = parser.parse_args(argv)
    try:
        proof = _load(args.proof)
        if args.registry is not None:
            leaf, against = _verify_with_registry(proof, args.registry), f"the registry at {args.registry}"
        else:
            leaf = verify_proof(proof, args.root)
            against = "the root given" if args.root else _OWN_ROOT_ONLY
    except ProofError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    print(
        f"valid: event {leaf.event_id} of partner {leaf.partner_id} (citizen {leaf.citizen_id}, "
        f"{leaf.reduction_g} g, {leaf.methodology}, {leaf.occurred_at:%Y-%m-%dT%H:%M:%SZ})\n"
        f"  is leaf {leaf.leaf_index} of {leaf.tree_size} in run {leaf.run_id} ({leaf.book})\n"
        f"  root {leaf.root}\n"
        f"  checked against {against}"
    )
    return 0


def _verify_with_registry(proof: Any, registry_url: str) -> VerifiedLeaf:
    run_id = proof.get("run_id") if isinstance(proof, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise ProofError("malformed-proof", "run_id must be a non-empty string")
    published = fetch_published_run(registry_url, run_id)
    if published.get("book") != proof.get("book"):
        raise ProofError("registry-mismatch", f"the registry books run {run_id} to {published.get('book')!r}")
    root, size = published.get("root"), published.get("tree_size")
    if not isinstance(root, str) or not _HASH.fullmatch(root):
        raise ProofError("registry-mismatch", f"the registry publishes no root for run {run_id}")
    if not isinstance(size, int) or isinstance(size, bool):
        raise ProofError("registry-mismatch", f"the registry publishes no tree size for run {run_id}")
    return verify_proof(proof, root, published_tree_size=size)


def _load(path: str) -> Any:
    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise ProofError("malformed-proof", f"cannot read {path}: {error}") from error


def _read_proof(proof: Any) -> tuple[str, str, bytes, int, int, str, list[bytes]]:
    if not isinstance(proof, Mapping):
        raise ProofError("malformed-proof", "a proof is a JSON object")
    for name in ("run_id", "book", "leaf"):
        if not isinstance(proof.get(name), str) or not proof[name]:
            raise ProofError("malformed-proof", f"{name} must be a non-empty string")
    size, index = proof.get("tree_size"), proof.get("leaf_index")
    if not _is_int(size) or size < 1:
        raise ProofError("malformed-proof", "tree_size must be a positive integer")
    if not _is_int(index) or not 0 <= index < size:
        raise ProofError("malformed-proof", f"leaf_index must be an integer from 0 to {size - 1}")
    path = proof.get("audit_path")
    if not isinstance(path, list):
        raise ProofError("malformed-proof", "audit_path must be a list of hashes")
    return (
        proof["run_id"],
        proof["book"],
        _hash(proof.get("root"), "malformed-proof", "root"),
        size,
        index,
        proof["leaf"],
        [_hash(p, "malformed-proof", "audit_path item") for p in path],
    )


def _canonical_record(leaf: str) -> dict[str, Any]:
    """The leaf's fields, if it is the canonical record of docs/proofs.md, byte for byte."""
    try:
        record = json.loads(leaf)
    except ValueError as error:
        raise ProofError("non-canonical-leaf", f"the leaf is not JSON: {error}") from error
    if not isinstance(record, dict) or sorted(record) != list(LEAF_FIELDS):
        raise ProofError("non-canonical-leaf", f"the leaf needs exactly {', '.join(LEAF_FIELDS)}")
    if not all(isinstance(record[name], str) for name in _TEXT_FIELDS):
        raise ProofError("non-canonical-leaf", f"{', '.join(_TEXT_FIELDS)} must be strings")
    if not _is_int(record["reduction_g"]) or record["reduction_g"] < 0:
        raise ProofError("non-canonical-leaf", "reduction_g must be a non-negative integer")
    if not isinstance(record["occurred_at"], str) or not _is_utc_seconds(record["occurred_at"]):
        raise ProofError("non-canonical-leaf", "occurred_at must be a UTC time as YYYY-MM-DDTHH:MM:SSZ")
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        same = canonical.encode() == leaf.encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 bytes to hash at all
        same = False
    if not same:
        raise ProofError("non-canonical-leaf", "the leaf is not canonical (sorted keys, no spaces, UTF-8)")
    return record


def _root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root the audit path leads to from the leaf (RFC 9162 §2.1.3.2), or None if it cannot."""
    fn, sn = index, size - 1
    r = hashlib.sha256(b"\x00" + leaf).digest()
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def _hash(value: Any, reason: str, name: str) -> bytes:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise ProofError(reason, f"{name} must be 64 hex digits (a SHA-256 hash)")
    return bytes.fromhex(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_utc_seconds(text: str) -> bool:
    if not _UTC_SECONDS.fullmatch(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
