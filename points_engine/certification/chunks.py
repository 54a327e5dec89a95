"""A run's tree kept as the roots of aligned chunks of ``CHUNK`` leaves.

Every aligned block of 1,024 leaves (and the last, shorter one) is a node of the RFC 6962 tree,
and the tree over those chunk roots (taken as they are, not hashed again) has the same root as the
tree over all leaves. So a run stores one row per 1,024 actions, and the inclusion proof of a leaf
is its path inside its chunk followed by its chunk's path among the chunk roots: reading 1,024
leaves, never the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence

from points_engine.certification.merkle import audit_path_of_hashes, root_of_hashes

__all__ = ["CHUNK", "chunk_of", "chunked_audit_path", "chunked_root"]

CHUNK = 1024


def chunk_of(leaf_index: int) -> tuple[int, int]:
    """(chunk number, index inside the chunk) of a leaf."""
    return divmod(leaf_index, CHUNK)


def chunked_root(chunk_roots: Sequence[bytes]) -> bytes:
    """The run's root from its chunk roots."""
    return root_of_hashes(chunk_roots)[0]


def chunked_audit_path(
    chunk_hashes: Sequence[bytes], index_in_chunk: int, chunk_roots: Sequence[bytes], chunk: int
) -> list[bytes]:
    """RFC 6962 audit path of leaf ``chunk * CHUNK + index_in_chunk`` of the whole run."""
    return audit_path_of_hashes(chunk_hashes, index_in_chunk) + audit_path_of_hashes(chunk_roots, chunk)
