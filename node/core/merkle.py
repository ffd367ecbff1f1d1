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
from node.core.hashing import keccak256, keccak_256

_keccak = keccak_256  # the hash object's constructor: one call fewer per node in the hot loops


def compute_leaf_hash(log_index: int, fingerprint: bytes) -> bytes:
    """``keccak256(bytes.concat(keccak256(abi.encode(uint256 logIndex, bytes32 fingerprint))))``.

    Requires 0 <= log_index < 2**256 and a 32-byte fingerprint.
    """
    if len(fingerprint) != 32:
        raise ValueError("fingerprint must be 32 bytes")
    return keccak256(keccak256(log_index.to_bytes(32, "big") + fingerprint))


def compute_leaf_hashes(start_index: int, fingerprints: Sequence[bytes]) -> list[bytes]:
    """``compute_leaf_hash(start_index + i, fingerprints[i])`` for each i, in one tight loop.

    Requires 32-byte fingerprints and start_index >= 0.
    """
    if any(len(fp) != 32 for fp in fingerprints):
        raise ValueError("fingerprints must be 32 bytes")
    k = _keccak
    return [k(k((start_index + i).to_bytes(32, "big") + fp).digest()).digest() for i, fp in enumerate(fingerprints)]


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
        # The sorted leaves fill the array from the end backwards.
        nodes[n - 1 :] = [leaf_hashes[i] for i in reversed(order)]
        tree_index = [0] * n
        for position, value_index in enumerate(order):
            tree_index[value_index] = size - 1 - position
        # Inner nodes level by level, from the deepest: every child of a level's inner nodes lies in
        # the next level and is final by then, so a whole level is one list comprehension over
        # slices (node i has children 2i+1 and 2i+2), which is several times faster than a loop.
        k = _keccak
        level_start = (1 << (size.bit_length() - 1)) - 1  # first index of the deepest level
        while level_start >= 0:
            lo, hi = level_start, min(2 * level_start + 1, n - 1)  # the level's inner nodes
            if lo < hi:
                left = nodes[2 * lo + 1 : 2 * hi + 1 : 2]
                right = nodes[2 * lo + 2 : 2 * hi + 2 : 2]
                nodes[lo:hi] = [k(a + b if a < b else b + a).digest() for a, b in zip(left, right, strict=True)]
            level_start = (level_start - 1) // 2 if level_start else -1
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

    def pack(self) -> bytes:
        """Every node, 32 bytes each, in array order: what ``proof_from_packed`` reads (and the store keeps)."""
        return b"".join(self.nodes)


def proof_from_packed(packed: bytes, leaf_hash: bytes) -> list[bytes]:
    """The proof of ``leaf_hash`` in a packed tree (``MerkleTree.pack``), equal to ``MerkleTree.proof``.

    The leaves sit sorted (descending by array index) at the end of the array, so the leaf is found by
    binary search: O(log n) slices, no tree in memory. Raises KeyError if the leaf is not in the tree.
    """
    size = len(packed) // 32
    if size == 0 or len(packed) % 32 or size % 2 == 0:
        raise ValueError("a packed tree is 2n-1 nodes of 32 bytes")
    n = (size + 1) // 2
    lo, hi = 0, n  # positions in ascending leaf order; position p sits at index size - 1 - p
    while lo < hi:
        mid = (lo + hi) // 2
        at = 32 * (size - 1 - mid)
        if packed[at : at + 32] < leaf_hash:
            lo = mid + 1
        else:
            hi = mid
    index = size - 1 - lo
    if lo == n or packed[32 * index : 32 * index + 32] != leaf_hash:
        raise KeyError("leaf not in this tree")
    proof: list[bytes] = []
    while index > 0:
        sibling = index - 1 if index % 2 == 0 else index + 1
        proof.append(packed[32 * sibling : 32 * sibling + 32])
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
