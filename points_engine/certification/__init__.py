"""Certification runs: the Merkle tree of a run's actions, their proofs, and serial ranges.

docs/proofs.md states the formats; they are binding, so that anyone can verify a proof with
``partners.sdk.proofs`` or a few lines of their own, without this package.
"""

from points_engine.certification.chunks import CHUNK, chunk_of, chunked_audit_path, chunked_root
from points_engine.certification.errors import (
    CertificationError,
    InvalidLeafHash,
    InvalidLeafRecord,
    InvalidPeriod,
    InvalidSerial,
    LeafIndexOutOfRange,
)
from points_engine.certification.issuance import GRAMS_PER_TONNE, Issuance, issue, run_id
from points_engine.certification.leaves import LEAF_FIELDS, leaf_order_key, leaf_record, utc_seconds
from points_engine.certification.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    audit_path,
    audit_path_of_hashes,
    leaf_hash,
    node_hash,
    root,
    root_of_hashes,
    verify_inclusion,
)
from points_engine.certification.periods import SHANGHAI, Period
from points_engine.certification.proofs import proof_document
from points_engine.certification.serials import SerialRange, parse_serial, serial

__all__ = [
    "CHUNK",
    "EMPTY_ROOT",
    "GRAMS_PER_TONNE",
    "HASH_SIZE",
    "LEAF_FIELDS",
    "SHANGHAI",
    "CertificationError",
    "InvalidLeafHash",
    "InvalidLeafRecord",
    "InvalidPeriod",
    "InvalidSerial",
    "Issuance",
    "LeafIndexOutOfRange",
    "Period",
    "SerialRange",
    "audit_path",
    "audit_path_of_hashes",
    "chunk_of",
    "chunked_audit_path",
    "chunked_root",
    "issue",
    "leaf_hash",
    "leaf_order_key",
    "leaf_record",
    "node_hash",
    "parse_serial",
    "proof_document",
    "root",
    "root_of_hashes",
    "run_id",
    "serial",
    "utc_seconds",
    "verify_inclusion",
]
