"""An OpenZeppelin StandardMerkleTree-compatible tree over (logIndex, fingerprint) leaves.

Same leaf encoding, sorted leaves, array layout, sorted-pair hashing and proof order as
``@openzeppelin/merkle-tree``, so roots and proofs match it byte for byte and verify with
``MerkleProof.verify`` on-chain. tests/unit/test_merkle_reference.py cross-checks both.

Layout: a tree of n leaves is an array of 2n-1 nodes; the hash-sorted leaves fill it from
the end backwards, node i has children 2i+1 and 2i+2, node 0 is the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Protocol

from node.core.errors import ProofError
from node.core.hashing import keccak256, keccak_256

_keccak = keccak_256  # the hash object's constructor: one call fewer per node in the hot loops


class MerkleBackend(Protocol):
    """A faster implementation of this module's leaf hashing and build (node/native: C through ctypes).

    It must give the same bytes as the Python code here; tests/unit/test_merkle_native.py checks it.
    Inputs and outputs are packed: ``count`` items of 32 bytes concatenated. ``tree_index`` comes back
    as any sequence of ints (an ``array``), the nodes as the packed tree (``MerkleTree.pack``).
    """

    @property
    def name(self) -> str: ...

    def leaf_hashes(self, start_index: int, fingerprints: bytes, count: int) -> bytes: ...

    def tree_from_leaves(self, leaves: bytes, count: int) -> tuple[bytes, Sequence[int]]: ...

    def tree_from_values(self, start_index: int, fingerprints: bytes, count: int) -> tuple[bytes, Sequence[int]]: ...


def compute_leaf_hash(log_index: int, fingerprint: bytes) -> bytes:
    """``keccak256(bytes.concat(keccak256(abi.encode(uint256 logIndex, bytes32 fingerprint))))``.

    Requires 0 <= log_index < 2**256 and a 32-byte fingerprint.
    """
    if len(fingerprint) != 32:
        raise ValueError("fingerprint must be 32 bytes")
    return keccak256(keccak256(log_index.to_bytes(32, "big") + fingerprint))


def _packed_32(items: Sequence[bytes], what: str) -> bytes:
    if items and set(map(len, items)) != {32}:
        raise ValueError(f"{what} must be 32 bytes")
    return b"".join(items)


def _check_index_range(start_index: int, count: int) -> None:
    # What ``int.to_bytes(32, "big")`` refuses in the Python path, refused the same way before native code runs.
    if start_index < 0 or start_index + count > 2**256:
        raise OverflowError("log indexes must lie in 0 .. 2**256 - 1")


def compute_leaf_hashes(
    start_index: int, fingerprints: Sequence[bytes], *, backend: MerkleBackend | None = None
) -> list[bytes]:
    """``compute_leaf_hash(start_index + i, fingerprints[i])`` for each i, in one tight loop (or one native call).

    Requires 32-byte fingerprints and start_index >= 0.
    """
    if backend is not None:
        packed = _packed_32(fingerprints, "fingerprints")
        _check_index_range(start_index, len(fingerprints))
        leaves = backend.leaf_hashes(start_index, packed, len(fingerprints))
        return [leaves[at : at + 32] for at in range(0, len(leaves), 32)]
    if any(len(fp) != 32 for fp in fingerprints):
        raise ValueError("fingerprints must be 32 bytes")
    k = _keccak
    return [k(k((start_index + i).to_bytes(32, "big") + fp).digest()).digest() for i, fp in enumerate(fingerprints)]


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b if a < b else b + a)


class MerkleTree:
    """A built tree: its packed nodes (2n-1 of 32 bytes, node 0 the root) and where each leaf sits.

    ``tree_index[i]`` is the node index of the i-th leaf given to ``build`` (or of value i in ``of``).
    ``nodes`` and ``tree_index`` are tuples made on first use: the anchoring job needs only the root and
    the packed bytes, and turning a 1,000,000-leaf tree into 2n-1 bytes objects costs ~0.35 s.
    """

    def __init__(self, packed: bytes, tree_index: Sequence[int]) -> None:
        """Requires ``packed`` of 2n-1 nodes and ``tree_index`` of n entries, as ``build`` makes them."""
        self.packed = packed
        self._positions = tree_index

    @classmethod
    def build(cls, leaf_hashes: Sequence[bytes], *, backend: MerkleBackend | None = None) -> MerkleTree:
        """Build from leaf hashes in value order. Requires at least one leaf (of 32 bytes with a backend)."""
        n = len(leaf_hashes)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        if backend is not None:
            return cls(*backend.tree_from_leaves(_packed_32(leaf_hashes, "leaf hashes"), n))
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
        return cls(b"".join(nodes), tree_index)

    @classmethod
    def of(cls, start_index: int, fingerprints: Sequence[bytes], *, backend: MerkleBackend | None = None) -> MerkleTree:
        """The tree of the values ``(start_index + i, fingerprints[i])``, as ``StandardMerkleTree.of``.

        Equal to ``build(compute_leaf_hashes(start_index, fingerprints))``; with a backend the leaves never
        become Python objects. Requires at least one 32-byte fingerprint and start_index >= 0.
        """
        if backend is None:
            return cls.build(compute_leaf_hashes(start_index, fingerprints))
        if not fingerprints:
            raise ValueError("a Merkle tree needs at least one leaf")
        packed = _packed_32(fingerprints, "fingerprints")
        _check_index_range(start_index, len(fingerprints))
        return cls(*backend.tree_from_values(start_index, packed, len(fingerprints)))

    @cached_property
    def nodes(self) -> tuple[bytes, ...]:
        packed = self.packed
        return tuple([packed[at : at + 32] for at in range(0, len(packed), 32)])

    @cached_property
    def tree_index(self) -> tuple[int, ...]:
        return tuple(self._positions)

    @property
    def root(self) -> bytes:
        return self.packed[:32]

    @property
    def leaf_count(self) -> int:
        return len(self._positions)

    def leaf_hash(self, value_index: int) -> bytes:
        """The leaf of the ``value_index``-th value. Requires 0 <= value_index < leaf_count."""
        at = 32 * self._positions[value_index]
        return self.packed[at : at + 32]

    def proof(self, value_index: int) -> list[bytes]:
        """Sibling hashes from the leaf up. Requires 0 <= value_index < leaf_count."""
        if not 0 <= value_index < len(self._positions):
            raise IndexError(f"leaf {value_index} outside 0..{len(self._positions) - 1}")
        index = self._positions[value_index]
        packed = self.packed
        proof: list[bytes] = []
        while index > 0:
            sibling = 32 * (index - 1 if index % 2 == 0 else index + 1)
            proof.append(packed[sibling : sibling + 32])
            index = (index - 1) // 2
        return proof

    def pack(self) -> bytes:
        """Every node, 32 bytes each, in array order: what ``proof_from_packed`` reads (and the store keeps)."""
        return self.packed


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
