"""The fast paths of the tree against its plain definitions: level-wise build, batched leaves, packed proofs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core.hashing import keccak256
from node.core.merkle import MerkleTree, compute_leaf_hash, compute_leaf_hashes, proof_from_packed


def _reference_nodes(leaves: list[bytes]) -> tuple[bytes, ...]:
    """The StandardMerkleTree array, one node at a time (the literal rule the level-wise build speeds up)."""
    n = len(leaves)
    size = 2 * n - 1
    nodes = [b""] * size
    for position, leaf in enumerate(sorted(leaves)):
        nodes[size - 1 - position] = leaf
    for i in range(size - 1 - n, -1, -1):
        a, b = nodes[2 * i + 1], nodes[2 * i + 2]
        nodes[i] = keccak256(a + b if a < b else b + a)
    return tuple(nodes)


@settings(max_examples=80, deadline=None)
@given(
    fps=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=140, unique=True),
    start=st.integers(0, 2**40),
)
def test_fast_tree_equals_the_literal_rule_and_packed_proofs_equal_tree_proofs(fps: list[bytes], start: int) -> None:
    leaves = compute_leaf_hashes(start, fps)
    assert leaves == [compute_leaf_hash(start + i, fp) for i, fp in enumerate(fps)]
    tree = MerkleTree.build(leaves)
    assert tree.nodes == _reference_nodes(leaves)
    packed = tree.pack()
    assert len(packed) == 32 * (2 * len(leaves) - 1) and packed[:32] == tree.root
    for i, leaf in enumerate(leaves):
        assert proof_from_packed(packed, leaf) == tree.proof(i)


def test_a_leaf_not_in_the_tree_and_a_malformed_tree_are_refused() -> None:
    tree = MerkleTree.build(compute_leaf_hashes(0, [bytes([i]) * 32 for i in range(5)]))
    with pytest.raises(KeyError):
        proof_from_packed(tree.pack(), compute_leaf_hash(99, bytes(32)))
    with pytest.raises(ValueError, match="2n-1"):
        proof_from_packed(tree.pack()[:64], tree.root)
    with pytest.raises(ValueError, match="32 bytes"):
        compute_leaf_hashes(0, [b"short"])
