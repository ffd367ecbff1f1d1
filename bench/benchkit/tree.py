"""Section 2: build plus every proof, this node's tree against @openzeppelin/merkle-tree in node.

``backends`` compares the node's tree builders back to back: ``native`` (node/native, C), ``python``
(the pure-Python code), ``auto`` (what the node itself uses). With several, each repeat runs every
backend in turn on the same values (interleaved, so a busy minute hits all of them), and the first
backend's figures are the baseline of the others.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import dataclass, field

from benchkit.node_harness import REPO
from benchkit.table import Row
from node.core.hashing import to_hex
from node.core.merkle import MerkleBackend, MerkleTree, compute_leaf_hash, proof_from_packed
from node.native.loader import NativeMerkle, merkle_backend


@dataclass
class _Runs:
    label: str
    backend: MerkleBackend | None
    builds: list[float] = field(default_factory=list)
    build_cpu: list[float] = field(default_factory=list)
    proofs: list[float] = field(default_factory=list)
    root: str = ""


def resolve_backends(names: list[str]) -> list[tuple[str, MerkleBackend | None]]:
    """``native`` fails loudly when the library is not built: a comparison must not quietly compare Python twice."""
    resolved: list[tuple[str, MerkleBackend | None]] = []
    for name in names:
        if name == "python":
            resolved.append(("python", None))
        elif name == "native":
            resolved.append(("native", NativeMerkle()))
        elif name == "auto":
            backend = merkle_backend()
            resolved.append(("native" if backend is not None else "python", backend))
        else:
            raise ValueError(f"unknown tree backend {name!r} (python, native, auto)")
    return resolved


def _time_build(runs: _Runs, fingerprints: list[bytes], *, with_proofs: bool) -> MerkleTree:
    started, cpu = time.perf_counter(), time.process_time()
    tree = MerkleTree.of(0, fingerprints, backend=runs.backend)
    runs.builds.append(time.perf_counter() - started)
    runs.build_cpu.append(time.process_time() - cpu)
    if with_proofs:
        started = time.perf_counter()
        for i in range(len(fingerprints)):
            tree.proof(i)
        runs.proofs.append(time.perf_counter() - started)
    runs.root = to_hex(tree.root)
    return tree


def _per_packed_proof(tree: MerkleTree, fingerprints: list[bytes]) -> float:
    n = len(fingerprints)
    sample = [compute_leaf_hash(i, fingerprints[i]) for i in range(0, n, max(1, n // 10_000))]
    packed = tree.pack()
    started = time.perf_counter()
    for leaf in sample:
        proof_from_packed(packed, leaf)
    return (time.perf_counter() - started) / len(sample)


def _openzeppelin(n: int) -> tuple[float, float, str]:
    out = subprocess.run(
        ["node", str(REPO / "bench" / "oz_tree_bench.mjs"), str(n)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return float(result["buildSeconds"]), float(result["proofSeconds"]), str(result["root"])


def run(sizes: list[int], oz_max: int, *, backends: list[str] | None = None, repeats: int = 1) -> list[Row]:
    chosen = resolve_backends(backends or ["auto"])
    several = len(chosen) > 1
    rows: list[Row] = []
    for n in sizes:
        fingerprints = [(i + 1).to_bytes(32, "big") for i in range(n)]  # the same values as the JS script
        runs = [_Runs(label, backend) for label, backend in chosen]
        last: MerkleTree | None = None
        for _ in range(max(1, repeats)):
            for each in runs:
                last = _time_build(each, fingerprints, with_proofs=True)
        assert last is not None
        roots = {each.root for each in runs}
        if len(roots) != 1:
            raise AssertionError(f"backends disagree at {n} leaves: {[(r.label, r.root) for r in runs]}")
        root = roots.pop()
        per_packed = _per_packed_proof(last, fingerprints)
        label = f"{n:,} leaves"
        oz: float | None = None
        if n <= oz_max:
            oz_built, oz_proofs, oz_root = _openzeppelin(n)
            if oz_root != root:
                raise AssertionError(f"roots differ at {n} leaves: {root} vs OpenZeppelin {oz_root}")
            oz = oz_built + oz_proofs
        first = runs[0]
        for each in runs:
            tag = f", {each.label}" if several else ""
            both = statistics.median(b + p for b, p in zip(each.builds, each.proofs, strict=True))
            build, cpu = statistics.median(each.builds), statistics.median(each.build_cpu)
            median_of = f"median of {len(each.builds)}, " if len(each.builds) > 1 else ""
            if oz is not None:
                base, base_label, note = oz, "@openzeppelin/merkle-tree", "same root"
            elif several and each is not first:
                base = statistics.median(b + p for b, p in zip(first.builds, first.proofs, strict=True))
                base_label, note = first.label, "same root"
            else:
                base, base_label, note = None, "", f"OpenZeppelin not run above {oz_max:,} leaves"
            rows.append(Row("2", f"tree build + all proofs, {label}{tag}", both, "s", base, base_label, note=note))
            if n >= 1_000_000 or several:
                build_base = statistics.median(first.builds) if several and each is not first else None
                rows.append(
                    Row(
                        "2",
                        f"tree build, {label}{tag}",
                        build,
                        "s",
                        build_base,
                        first.label if build_base is not None else "",
                        target="<= 2 s" if n >= 1_000_000 else "",
                        met=build <= 2.0 if n >= 1_000_000 else None,
                        note=f"{median_of}CPU {cpu:.3g} s",
                    )
                )
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
