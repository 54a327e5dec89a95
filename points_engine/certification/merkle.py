"""RFC 6962 Merkle Tree Hash, audit paths and their verification (docs/proofs.md).

- leaf hash ``SHA-256(0x00 ‖ leaf)``, node hash ``SHA-256(0x01 ‖ left ‖ right)``;
- ``MTH(D[n])`` splits at ``k``, the largest power of two strictly less than ``n``;
- ``MTH({})`` is ``SHA-256("")``.

A certification run may cover ten million actions, so roots are computed in one pass over the
leaf hashes, holding only the O(log n) roots of the complete subtrees seen so far: no list of
leaves, no recursion, no copies of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from hashlib import sha256
from itertools import islice

from points_engine.certification.errors import InvalidLeafHash, LeafIndexOutOfRange

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "audit_path",
    "audit_path_of_hashes",
    "leaf_hash",
    "node_hash",
    "root",
    "root_of_hashes",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()

# Leaf hashes are folded a block of 2**_BLOCK_BITS at a time, level by level, in comprehensions:
# the same hashes as one at a time, at about half the interpreter overhead. A block is a complete,
# aligned subtree of the RFC 6962 tree, so it enters the stack as one entry.
_BLOCK_BITS = 10
_BLOCK = 1 << _BLOCK_BITS


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 ‖ leaf)``."""
    return sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``."""
    return sha256(b"\x01" + left + right).digest()


def root(leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 Merkle Tree Hash of ``leaves`` (raw leaf bytes, in tree order)."""
    return root_of_hashes(map(leaf_hash, leaves))[0]


def root_of_hashes(hashes: Iterable[bytes]) -> tuple[bytes, int]:
    """The RFC 6962 root over already-hashed leaves, and how many there were.

    One pass, O(n) hashing, O(log n) memory beyond one block of 1,024 hashes: ``hashes`` may be a
    generator over ten million stored leaf hashes. Raises InvalidLeafHash if one is not 32 bytes.
    """
    stack: list[bytes] = []  # roots of complete subtrees, one per set bit of `count`, largest first
    count = 0
    iterator = iter(hashes)
    while True:
        block = list(islice(iterator, _BLOCK))
        _check_hashes(block, count)
        if len(block) < _BLOCK:
            break
        count += _BLOCK
        _push(stack, _perfect_root(block), count >> _BLOCK_BITS)
    for h in block:
        count += 1
        _push(stack, h, count)
    return _fold(stack), count


def audit_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 ``PATH(index, D[n])`` over raw leaves: sibling hashes from the leaf up."""
    return audit_path_of_hashes([leaf_hash(leaf) for leaf in leaves], index)


def audit_path_of_hashes(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 ``PATH(index, D[n])`` over leaf hashes: sibling hashes from the leaf up.

    Walks down from the root without recursion; each sibling subtree's root is streamed from
    ``hashes`` without copying it, so the whole path costs fewer than n node hashes.
    Raises LeafIndexOutOfRange unless ``0 <= index < len(hashes)``.
    """
    size = len(hashes)
    if isinstance(index, bool) or not 0 <= index < size:
        raise LeafIndexOutOfRange(index, size)
    lo, hi = 0, size
    siblings: list[bytes] = []  # top-down; the RFC lists them bottom-up
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(_range_root(hashes, lo + k, hi))
            hi = lo + k
        else:
            siblings.append(_range_root(hashes, lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves ``leaf`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    The RFC 9162 §2.1.3.2 algorithm. An audit path does not by itself pin the tree size (a
    leaf's path can be the same in trees of two sizes), so check ``size`` against the published
    one as well as ``root``.
    """
    if isinstance(index, bool) or isinstance(size, bool) or not 0 <= index < size:
        return False
    if len(root) != HASH_SIZE or any(len(p) != HASH_SIZE for p in path):
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _push(stack: list[bytes], h: bytes, count: int) -> None:
    """Add the root of the complete subtree ending at unit ``count``, merging equal-sized ones.

    A new subtree closes one complete subtree per trailing zero bit of ``count`` (in its units).
    """
    while not count & 1:
        h = node_hash(stack.pop(), h)
        count >>= 1
    stack.append(h)


def _fold(stack: list[bytes]) -> bytes:
    """The root over the complete subtrees on ``stack``, merged from the right as RFC 6962 splits.

    With n = 2^a + 2^b + … (a > b > …), the largest power of two below n is 2^a, so
    ``MTH(D[n]) = node(MTH(first 2^a), MTH(the rest))``, recursively: a right fold.
    """
    if not stack:
        return EMPTY_ROOT
    h = stack[-1]
    for left in reversed(stack[:-1]):
        h = node_hash(left, h)
    return h


def _perfect_root(level: list[bytes]) -> bytes:
    """The root of a complete subtree of 2^k leaf hashes, one level at a time."""
    while len(level) > 1:
        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)]
    return level[0]


def _range_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """The root of ``hashes[lo:hi]`` without copying the slice."""
    items: Iterator[bytes] = map(hashes.__getitem__, range(lo, hi))
    return root_of_hashes(items)[0]


def _check_hashes(block: list[bytes], offset: int) -> None:
    if block and set(map(len, block)) != {HASH_SIZE}:
        at = next(i for i, h in enumerate(block) if len(h) != HASH_SIZE)
        raise InvalidLeafHash(offset + at, len(block[at]))
