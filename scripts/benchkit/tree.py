"""Section 2: build plus every proof, this node's tree against @openzeppelin/merkle-tree in node."""

from __future__ import annotations

import json
import subprocess
import time

from benchkit.node_harness import REPO
from benchkit.table import Row
from node.core.hashing import to_hex
from node.core.merkle import MerkleTree, compute_leaf_hashes, proof_from_packed


def _python(n: int) -> tuple[float, float, float, str]:
    """(build seconds incl. leaf hashing, all-proofs seconds, mean packed proof seconds, root)."""
    fingerprints = [(i + 1).to_bytes(32, "big") for i in range(n)]  # the same values as the JS script
    started = time.perf_counter()
    leaves = compute_leaf_hashes(0, fingerprints)
    tree = MerkleTree.build(leaves)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):
        tree.proof(i)
    proofs = time.perf_counter() - started
    packed = tree.pack()
    sample = leaves[:: max(1, n // 10_000)]
    started = time.perf_counter()
    for leaf in sample:
        proof_from_packed(packed, leaf)
    per_packed = (time.perf_counter() - started) / len(sample)
    return built, proofs, per_packed, to_hex(tree.root)


def _openzeppelin(n: int) -> tuple[float, float, str]:
    out = subprocess.run(
        ["node", str(REPO / "scripts" / "oz_tree_bench.mjs"), str(n)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return float(result["buildSeconds"]), float(result["proofSeconds"]), str(result["root"])


def run(sizes: list[int], oz_max: int) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        built, proofs, per_packed, root = _python(n)
        label = f"{n:,} leaves"
        if n <= oz_max:
            oz_built, oz_proofs, oz_root = _openzeppelin(n)
            if oz_root != root:
                raise AssertionError(f"roots differ at {n} leaves: {root} vs OpenZeppelin {oz_root}")
            base, base_label, note = oz_built + oz_proofs, "@openzeppelin/merkle-tree", "same root"
        else:
            base, base_label, note = None, "", f"OpenZeppelin not run above {oz_max:,} leaves"
        rows.append(Row("2", f"tree build + all proofs, {label}", built + proofs, "s", base, base_label, note=note))
        if n >= 1_000_000:
            rows.append(Row("2", f"tree build, {label}", built, "s", target="<= 2 s", met=built <= 2.0))
        rows.append(
            Row(
                "2",
                f"one proof from the stored tree, {label}",
                per_packed * 1000,
                "ms",
                target="<= 1 ms",
                met=per_packed <= 0.001,
            )
        )
    return rows
