"""RFC 6962 Merkle trees of certification runs: roots, audit paths and their verification.

The streaming root and the path builder are checked against a straightforward recursive
reference written from the RFC's definitions, and against the Certificate Transparency test
vectors (RFC 6962 leaves and roots, as published by transparency-dev/merkle, used as data).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from points_engine.certification import (
    EMPTY_ROOT,
    InvalidLeafHash,
    LeafIndexOutOfRange,
    audit_path,
    audit_path_of_hashes,
    leaf_hash,
    node_hash,
    root,
    root_of_hashes,
    verify_inclusion,
)

CT_HEX = ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
CT_LEAVES = [bytes.fromhex(h) for h in CT_HEX]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


# --- the reference: RFC 6962 §2.1 as written, recursion and slices included -----------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _k(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_turns(m: int, n: int) -> list[str]:
    """Which side each sibling of leaf m is on, from the leaf up: the shape a path encodes."""
    if n == 1:
        return []
    k = _k(n)
    return [*ref_turns(m, k), "right"] if m < k else [*ref_turns(m - k, n - k), "left"]


def leaves_of(n: int) -> list[bytes]:
    return [b"action %d" % i for i in range(n)]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


trees = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True)  # distinct actions


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(trees)
    return leaves, draw(st.integers(0, len(leaves) - 1))


class TestRfc6962Vectors:
    def test_the_empty_tree_hashes_to_sha256_of_nothing(self):
        assert root([]) == EMPTY_ROOT
        assert root([]).hex() == CT_ROOTS[0]
        assert root_of_hashes([]) == (EMPTY_ROOT, 0)

    @pytest.mark.parametrize("n", range(len(CT_ROOTS)))
    def test_root_of_the_first_n_reference_leaves_is_the_published_one(self, n):
        assert root(CT_LEAVES[:n]).hex() == CT_ROOTS[n]

    @pytest.mark.parametrize("index", sorted(CT_PATHS))
    def test_audit_path_in_the_eight_leaf_tree_is_the_published_one(self, index):
        path = audit_path(CT_LEAVES, index)
        assert [p.hex() for p in path] == CT_PATHS[index]
        assert verify_inclusion(CT_LEAVES[index], index, 8, path, bytes.fromhex(CT_ROOTS[8]))

    def test_a_three_leaf_tree_by_hand_splits_two_then_one(self):
        a, b, c = (hashlib.sha256(b"\x00" + x).digest() for x in (b"a", b"b", b"c"))
        ab = hashlib.sha256(b"\x01" + a + b).digest()
        assert root([b"a", b"b", b"c"]) == hashlib.sha256(b"\x01" + ab + c).digest()
        assert audit_path([b"a", b"b", b"c"], 2) == [ab]
        assert audit_path([b"a", b"b", b"c"], 0) == [b, c]

    def test_leaf_and_node_hashes_are_domain_separated(self):
        assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
        assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()


class TestRoot:
    def test_streaming_root_equals_the_recursive_definition_for_every_size_up_to_300(self):
        leaves = leaves_of(300)
        for n in range(301):
            assert root(leaves[:n]) == ref_mth(leaves[:n]), n

    @pytest.mark.parametrize("n", [1023, 1024, 1025, 2047, 2048, 2049, 3 * 1024 + 5, 5000])
    def test_streaming_root_equals_the_recursive_definition_across_whole_blocks(self, n):
        leaves = leaves_of(n)
        assert root_of_hashes(leaf_hash(x) for x in leaves) == (ref_mth(leaves), n)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.binary(max_size=16), max_size=300))
    @example([])
    @example([b""] * 256)
    @example([b"x"] * 257)
    def test_streaming_root_equals_the_recursive_definition_for_any_leaves(self, leaves):
        assert root_of_hashes(map(leaf_hash, leaves)) == (ref_mth(leaves), len(leaves))

    def test_root_of_hashes_takes_a_generator_and_counts_the_leaves(self):
        hashes = (leaf_hash(b"%d" % i) for i in range(1500))
        digest, count = root_of_hashes(hashes)
        assert count == 1500
        assert digest == ref_mth([b"%d" % i for i in range(1500)])

    @pytest.mark.parametrize("position", [0, 7, 1024, 1030])
    def test_a_leaf_hash_that_is_not_32_bytes_is_refused_with_its_position(self, position):
        hashes = [leaf_hash(b"%d" % i) for i in range(1100)]
        hashes[position] = hashes[position][:31]
        with pytest.raises(InvalidLeafHash) as raised:
            root_of_hashes(hashes)
        assert raised.value.code == "invalid-leaf-hash"
        assert raised.value.position == position


class TestAuditPath:
    def test_every_leaf_of_every_tree_up_to_70_has_the_reference_path_and_it_verifies(self):
        for n in range(1, 71):
            leaves = leaves_of(n)
            top = ref_mth(leaves)
            hashes = [leaf_hash(x) for x in leaves]
            for i in range(n):
                path = audit_path_of_hashes(hashes, i)
                assert path == ref_path(i, leaves), (n, i)
                assert verify_inclusion(leaves[i], i, n, path, top), (n, i)

    @settings(max_examples=200, deadline=None)
    @given(tree_and_index())
    def test_audit_path_over_leaves_and_over_leaf_hashes_agree(self, case):
        leaves, i = case
        assert audit_path(leaves, i) == audit_path_of_hashes([leaf_hash(x) for x in leaves], i)

    def test_a_path_in_a_tree_of_several_blocks_verifies(self):
        leaves = leaves_of(5000)
        hashes = [leaf_hash(x) for x in leaves]
        top, _ = root_of_hashes(hashes)
        for i in (0, 1023, 1024, 4095, 4096, 4999):
            assert verify_inclusion(leaves[i], i, 5000, audit_path_of_hashes(hashes, i), top)

    @pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0), (True, 3)])
    def test_a_leaf_outside_the_tree_has_no_path(self, index, size):
        with pytest.raises(LeafIndexOutOfRange) as raised:
            audit_path_of_hashes([leaf_hash(x) for x in leaves_of(size)], index)
        assert raised.value.code == "leaf-index-out-of-range"


class TestVerifyInclusion:
    @settings(max_examples=200, deadline=None)
    @given(tree_and_index(), st.data())
    def test_a_flipped_bit_in_the_leaf_fails(self, case, data):
        leaves, i = case
        leaf = leaves[i]
        changed = flip(leaf, data.draw(st.integers(0, len(leaf) - 1))) if leaf else b"\x00"
        assert not verify_inclusion(changed, i, len(leaves), audit_path(leaves, i), root(leaves))

    @settings(max_examples=200, deadline=None)
    @given(tree_and_index(), st.data())
    def test_a_flipped_bit_in_the_path_fails(self, case, data):
        leaves, i = case
        path = audit_path(leaves, i)
        if path:
            k = data.draw(st.integers(0, len(path) - 1))
            path[k] = flip(path[k], data.draw(st.integers(0, 31)))
            assert not verify_inclusion(leaves[i], i, len(leaves), path, root(leaves))

    @settings(max_examples=200, deadline=None)
    @given(tree_and_index(), st.integers(0, 31))
    def test_a_flipped_bit_in_the_root_fails(self, case, at):
        leaves, i = case
        assert not verify_inclusion(leaves[i], i, len(leaves), audit_path(leaves, i), flip(root(leaves), at))

    @settings(max_examples=200, deadline=None)
    @given(tree_and_index(), st.integers(0, 39))
    def test_another_index_of_the_same_tree_fails(self, case, other):
        leaves, i = case
        n, top, path = len(leaves), root(leaves), audit_path(leaves, i)
        if other != i:
            assert not verify_inclusion(leaves[i], other, n, path, top)

    @settings(max_examples=200, deadline=None)
    @given(tree_and_index(), st.integers(1, 80))
    def test_another_size_passes_only_where_the_leaf_sits_the_same_way_in_both_trees(self, case, other):
        """A path does not pin the tree size (leaf 0 of 3 and of 4 share a path shape): that is why a
        verifier must also compare the size with the published one."""
        leaves, i = case
        n, top, path = len(leaves), root(leaves), audit_path(leaves, i)
        same_shape = i < other and ref_turns(i, other) == ref_turns(i, n)
        assert verify_inclusion(leaves[i], i, other, path, top) == same_shape

    def test_leaf_0_of_a_three_leaf_tree_also_verifies_as_leaf_0_of_four(self):
        leaves = leaves_of(3)
        assert verify_inclusion(leaves[0], 0, 4, audit_path(leaves, 0), root(leaves))

    @settings(max_examples=100, deadline=None)
    @given(tree_and_index())
    def test_a_shortened_or_lengthened_path_fails(self, case):
        leaves, i = case
        n, top, path = len(leaves), root(leaves), audit_path(leaves, i)
        assert not verify_inclusion(leaves[i], i, n, [*path, top], top)
        if path:
            assert not verify_inclusion(leaves[i], i, n, path[:-1], top)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 1), (True, 2), (0, True)])
    def test_an_index_outside_the_size_fails_without_raising(self, index, size):
        assert not verify_inclusion(b"a", index, size, [], leaf_hash(b"a"))

    def test_path_items_and_roots_of_the_wrong_length_fail(self):
        leaves = leaves_of(2)
        path = audit_path(leaves, 0)
        assert not verify_inclusion(leaves[0], 0, 2, [path[0][:31]], root(leaves))
        assert not verify_inclusion(leaves[0], 0, 2, path, root(leaves)[:31])

    def test_the_only_leaf_of_a_one_leaf_tree_verifies_with_an_empty_path(self):
        assert verify_inclusion(b"a", 0, 1, [], leaf_hash(b"a"))
