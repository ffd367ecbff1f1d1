"""An OpenZeppelin StandardMerkleTree-compatible tree over (logIndex, fingerprint) leaves.

Same leaf encoding, sorted leaves, array layout, sorted-pair hashing and proof order as
``@openzeppelin/merkle-tree``, so roots and proofs match it byte for byte and verify with
``MerkleProof.verify`` on-chain. tests/unit/test_merkle_reference.py cross-checks both.

Layout: a tree of n leaves is an array of 2n-1 nodes; the hash-sorted leaves fill it from
the end backwards, node i has children 2i+1 and 2i+2, node 0 is the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.core.errors import ProofError
from node.core.hashing import keccak256


def compute_leaf_hash(log_index: int, fingerprint: bytes) -> bytes:
    """``keccak256(bytes.concat(keccak256(abi.encode(uint256 logIndex, bytes32 fingerprint))))``.

    Requires 0 <= log_index < 2**256 and a 32-byte fingerprint.
    """
    if len(fingerprint) != 32:
        raise ValueError("fingerprint must be 32 bytes")
    return keccak256(keccak256(log_index.to_bytes(32, "big") + fingerprint))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b if a < b else b + a)


@dataclass(frozen=True)
class MerkleTree:
    """A built tree. ``tree_index[i]`` is where the i-th leaf given to ``build`` sits."""

    nodes: tuple[bytes, ...]
    tree_index: tuple[int, ...]

    @classmethod
    def build(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """Build from leaf hashes in value order. Requires at least one leaf."""
        n = len(leaf_hashes)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        order = sorted(range(n), key=leaf_hashes.__getitem__)
        size = 2 * n - 1
        nodes: list[bytes] = [b""] * size
        tree_index = [0] * n
        for position, value_index in enumerate(order):
            slot = size - 1 - position
            nodes[slot] = leaf_hashes[value_index]
            tree_index[value_index] = slot
        for i in range(size - 1 - n, -1, -1):
            left, right = nodes[2 * i + 1], nodes[2 * i + 2]
            nodes[i] = keccak256(left + right if left < right else right + left)
        return cls(tuple(nodes), tuple(tree_index))

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    @property
    def leaf_count(self) -> int:
        return len(self.tree_index)

    def proof(self, value_index: int) -> list[bytes]:
        """Sibling hashes from the leaf up. Requires 0 <= value_index < leaf_count."""
        if not 0 <= value_index < len(self.tree_index):
            raise IndexError(f"leaf {value_index} outside 0..{len(self.tree_index) - 1}")
        index = self.tree_index[value_index]
        proof: list[bytes] = []
        while index > 0:
            proof.append(self.nodes[index - 1 if index % 2 == 0 else index + 1])
            index = (index - 1) // 2
        return proof


def compute_root_from_proof(leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    node = leaf_hash
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify_proof(leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raises ProofError when ``proof`` does not lead from ``leaf_hash`` to ``root``."""
    calculated = compute_root_from_proof(leaf_hash, proof)
    if calculated != root:
        raise ProofError(expected=root, calculated=calculated)


def compute_batch_commitment(root: bytes, count: int) -> bytes:
    """What the anchor contract stores per batch: ``keccak256(abi.encode(root, uint256(count)))``."""
    return keccak256(root + count.to_bytes(32, "big"))
