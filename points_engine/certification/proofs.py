"""The inclusion proof of one action in a certification run, in its binding JSON form (docs/proofs.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from points_engine.certification.merkle import verify_inclusion
from points_engine.errors import InvariantViolation
from points_engine.regions import Book

__all__ = ["proof_document"]


def proof_document(
    *,
    run_id: str,
    book: Book,
    root: bytes,
    tree_size: int,
    leaf_index: int,
    leaf: bytes,
    audit_path: Sequence[bytes],
) -> dict[str, Any]:
    """The proof as anyone can check it offline: hashes in lowercase hex, the leaf as its JSON text.

    The proof is verified before it is handed out; one that does not verify is a bug
    (InvariantViolation), never a proof.
    """
    if not verify_inclusion(leaf, leaf_index, tree_size, audit_path, root):
        raise InvariantViolation(f"run {run_id}: the audit path of leaf {leaf_index} does not reach the root")
    return {
        "run_id": run_id,
        "book": book,
        "root": root.hex(),
        "tree_size": tree_size,
        "leaf_index": leaf_index,
        "leaf": leaf.decode(),
        "audit_path": [p.hex() for p in audit_path],
    }
