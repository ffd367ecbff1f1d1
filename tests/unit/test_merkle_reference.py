"""Our tree against @openzeppelin/merkle-tree, byte for byte: every size 1..64 and a large one.

Each test runs with the pure-Python tree and with the native backend (node/native).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from node.core.hashing import to_hex
from node.core.merkle import MerkleBackend, MerkleTree, compute_leaf_hash, verify_proof
from tests.support import native_merkle

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "tests" / "reference" / "oz_tree.mjs"


@pytest.fixture(params=["python", "native"])
def backend(request: pytest.FixtureRequest) -> MerkleBackend | None:
    return None if request.param == "python" else native_merkle()


def _oz(trees: list[list[tuple[str, str]]]) -> list[dict[str, object]]:
    node = shutil.which("node")
    assert node is not None, "node.js is required for the reference tree"
    result = subprocess.run(
        [node, str(ORACLE)],
        input=json.dumps({"trees": trees}),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _random_values(rng: random.Random, size: int, start: int) -> list[tuple[int, bytes]]:
    return [(start + i, rng.randbytes(32)) for i in range(size)]


def _check_against_reference(cases: list[list[tuple[int, bytes]]], backend: MerkleBackend | None) -> None:
    # Indexes travel as strings: JSON numbers past 2^53 lose digits in JavaScript.
    reference = _oz([[(str(i), to_hex(fp)) for i, fp in values] for values in cases])
    for values, ref in zip(cases, reference, strict=True):
        leaves = [compute_leaf_hash(i, fp) for i, fp in values]
        tree = MerkleTree.build(leaves, backend=backend)
        if all(i == values[0][0] + offset for offset, (i, _fp) in enumerate(values)):
            assert MerkleTree.of(values[0][0], [fp for _i, fp in values], backend=backend).pack() == tree.pack()
        assert to_hex(tree.root) == ref["root"], f"root differs at size {len(values)}"
        for position, leaf in enumerate(leaves):
            proof = tree.proof(position)
            assert [to_hex(p) for p in proof] == ref["proofs"][position]  # type: ignore[index]
            verify_proof(leaf, proof, tree.root)


def test_every_size_from_1_to_64_matches_openzeppelin(backend: MerkleBackend | None) -> None:
    rng = random.Random(20261127)
    _check_against_reference([_random_values(rng, size, rng.randrange(0, 10**9)) for size in range(1, 65)], backend)


def test_large_random_size_matches_openzeppelin(backend: MerkleBackend | None) -> None:
    rng = random.Random(7)
    size = rng.randrange(2_000, 5_000)
    _check_against_reference([_random_values(rng, size, rng.randrange(0, 2**63))], backend)


def test_duplicate_fingerprints_at_distinct_indexes_still_prove(backend: MerkleBackend | None) -> None:
    fp = b"\x11" * 32
    _check_against_reference([[(0, fp), (1, fp), (2, fp)]], backend)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9])
def test_tampered_proof_or_leaf_is_rejected(size: int, backend: MerkleBackend | None) -> None:
    rng = random.Random(size)
    leaves = [compute_leaf_hash(i, rng.randbytes(32)) for i in range(size)]
    tree = MerkleTree.build(leaves, backend=backend)
    for position, leaf in enumerate(leaves):
        proof = tree.proof(position)
        with pytest.raises(ValueError, match="root mismatch"):
            verify_proof(compute_leaf_hash(position + 10**6, b"\x00" * 32), proof, tree.root)
        if proof:
            bad = list(proof)
            bad[0] = bytes(32)
            with pytest.raises(ValueError, match="root mismatch"):
                verify_proof(leaf, bad, tree.root)


def test_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree.build([])
