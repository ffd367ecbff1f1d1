"""Evidence pack format v2 vectors (``pacspace.evidence.v2``), derived from committed v2 evidence vectors.

    ETH_HASH_BACKEND=pysha3 .venv/bin/python -m tests.vectors.tools.derive_evidence_v2 [--check-only]

Pack v2 changes nothing that is hashed or signed: it is the v1 pack's comparison and bundles with the
lists cut to ``evidence.limit`` (counts complete) and the ``within_tolerance`` resolution. So each case
here is a committed, recorded v1 pack (its bundles and its JSON-RPC transcript unchanged) rewritten as
the node writes a v2 pack, or as a v2 pack that lies in one way. Every case is run through the
verifier against its transcript and must give its declared verdict before anything is written; an
existing file is never overwritten (vectors are only added).
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.unit.test_vectors import run_vector

VECTORS = Path(__file__).resolve().parents[1]
SOURCE = VECTORS / "v2" / "evidence" / "valid.json"
Pack = dict[str, Any]


def _as_v2(pack: Pack, limit: int = 1000) -> Pack:
    out = copy.deepcopy(pack)
    out["version"] = "pacspace.evidence.v2"
    out["evidence"] = {"limit": limit, **out["evidence"]}
    return out


def _cut(pack: Pack) -> Pack:
    """A pack cut to a limit of 1: onlyInRecord keeps one of its 2 items (ref_a3; which ones a pack keeps is
    the node's choice, not a rule a verifier checks), the count stays 2, and the bundle of the item cut away
    goes with it. (ref_a3 is kept rather than the newest, ref_a5, because the recorded transcript answers the
    chain calls of the remaining bundles in that case: the verifier asks the chain once per batch.)"""
    out = _as_v2(pack, limit=1)
    kept = out["evidence"]["onlyInRecord"][1:]
    dropped = {i["receiptId"] for i in out["evidence"]["onlyInRecord"][:1]}
    out["evidence"]["onlyInRecord"] = kept
    out["bundles"] = [b for b in out["bundles"] if b["receiptId"] not in dropped]
    return out


def _within(pack: Pack) -> Pack:
    """The same views judged within an absolute tolerance of 300 by a key that may not settle."""
    out = _as_v2(pack)
    out["comparison"]["tolerance"] = {"absolute": 300, "basisPoints": None}
    out["comparison"]["resolution"] = "within_tolerance"
    return out


def _edit(make: Callable[[Pack], Pack], change: Callable[[Pack], None]) -> Callable[[Pack], Pack]:
    def build(pack: Pack) -> Pack:
        out = make(pack)
        change(out)
        return out

    return build


def _set(path: str, value: Any) -> Callable[[Pack], None]:
    def change(pack: Pack) -> None:
        *parents, last = path.split(".")
        target = pack
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(path: str) -> Callable[[Pack], None]:
    def change(pack: Pack) -> None:
        *parents, last = path.split(".")
        target = pack
        for key in parents:
            target = target[key]
        del target[last]

    return change


# (file name, description, how the pack is made, exit, failed checks)
CASES: list[tuple[str, str, Callable[[Pack], Pack], int, list[str]]] = [
    ("valid-pack-v2", "pack v2 of the needs_evidence comparison: limit 1000, nothing cut", _as_v2, 0, []),
    (
        "valid-pack-v2-cut",
        "pack v2 with limit 1: onlyInRecord keeps ref_a3 of its 2 items, and only that item's bundle",
        _cut,
        0,
        [],
    ),
    (
        "valid-pack-v2-within-tolerance",
        "pack v2, resolution within_tolerance: variance 252 within an absolute tolerance of 300, nothing settled",
        _within,
        0,
        [],
    ),
    (
        "invalid-arithmetic-pack-v2-cut",
        "pack v2 with limit 1 whose onlyInRecord still holds both items: a list longer than its limit",
        _edit(_as_v2, _set("evidence.limit", 1)),
        1,
        ["arithmetic"],
    ),
    (
        "invalid-arithmetic-pack-v2-count",
        "pack v2 with limit 1 whose onlyInRecord lists an item while its count says 0: the count lies",
        _edit(_cut, _set("evidence.counts.onlyInRecord", 0)),
        1,
        ["arithmetic"],
    ),
    (
        "invalid-format-pack-v2-no-limit",
        "pack v2 without evidence.limit (format), so arithmetic cannot be judged either",
        _edit(_as_v2, _drop("evidence.limit")),
        1,
        ["arithmetic", "format"],
    ),
    (
        "invalid-resolution-pack-v2-within-tolerance-settled",
        "pack v2, within_tolerance that names a settlement receipt: within_tolerance settles nothing",
        _edit(_within, _set("comparison.settlementReceiptId", "rcpt_000000000000000000000000")),
        1,
        ["resolution"],
    ),
    (
        "invalid-resolution-pack-v2-within-tolerance-beyond",
        "pack v2, within_tolerance with an absolute tolerance of 100: the variance 252 is beyond it",
        _edit(_within, _set("comparison.tolerance.absolute", 100)),
        1,
        ["resolution"],
    ),
    (
        "invalid-format-pack-v2-resolution-in-v1",
        "a v1 pack with resolution within_tolerance, which only v2 knows",
        _edit(copy.deepcopy, _set("comparison.resolution", "within_tolerance")),
        1,
        ["format", "resolution"],
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check-only", action="store_true", help="build and check every case, write nothing")
    args = parser.parse_args(argv)
    source = json.loads(SOURCE.read_text(encoding="utf-8"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    vectors: dict[Path, dict[str, Any]] = {}
    for name, description, make, exit_code, failed in CASES:
        vector = {
            "description": description,
            "protocol": source["protocol"],
            "mode": "evidence",
            "input": make(source["input"]),
            "options": source["options"],
            "rpc": source["rpc"],
            "want": {"exit": exit_code, "failed": failed},
            "provenance": (
                f"tests/vectors/tools/derive_evidence_v2.py at commit {commit}, from v2/evidence/valid.json "
                f"({source['provenance']})"
            ),
        }
        code, got, proc = run_vector(vector)
        if (code, got) != (exit_code, failed):
            print(f"{name}: wants {exit_code} {failed}, the verifier gives {code} {got}\n{proc.stdout[-2000:]}")
            return 1
        vectors[VECTORS / "v2" / "evidence" / f"{name}.json"] = vector
    existing = [str(path) for path in vectors if path.exists()]
    if args.check_only or existing:
        print("checked" if not existing else f"refusing to overwrite {existing}")
        return 0 if args.check_only or not existing else 1
    for path, vector in vectors.items():
        path.write_text(json.dumps(vector, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(VECTORS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
