"""The ABI the node ships (node/chain/abi.py) is exactly what forge compiles from contracts/src."""

from __future__ import annotations

import json
from pathlib import Path

from node.chain.abi import ANCHOR_ABI


def _signature(entry: dict[str, object]) -> tuple[object, ...]:
    inputs = tuple((i["name"], i["type"], i.get("indexed")) for i in entry["inputs"])  # type: ignore[attr-defined]
    outputs = tuple(o["type"] for o in entry.get("outputs", []))  # type: ignore[attr-defined]
    return (entry["type"], entry["name"], inputs, outputs, entry.get("stateMutability"))


def test_every_shipped_entry_matches_the_compiled_contract(artifact: Path) -> None:
    compiled = {
        (e["type"], e.get("name")): _signature(e) for e in json.loads(artifact.read_text())["abi"] if "name" in e
    }
    for entry in ANCHOR_ABI:
        key = (entry["type"], entry["name"])
        assert key in compiled, f"{key} is not in the compiled ABI"
        assert _signature(entry) == compiled[key], f"{key} differs from the compiled ABI"
