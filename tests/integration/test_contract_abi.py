"""The ABI the node ships (node/chain/abi.py) is exactly what forge compiles from contracts/src.

Every entry matches contract v2 (PacSpaceAnchor); every entry but the v2-only ones also matches the
protocol v1 contract (PacSpaceAnchorV1), and the v2-only ones are absent from it.
"""

from __future__ import annotations

import json
from pathlib import Path

from node.chain.abi import ANCHOR_ABI, V2_ONLY
from node.dev.chain import ARTIFACT_V1


def _signature(entry: dict[str, object]) -> tuple[object, ...]:
    inputs = tuple((i["name"], i["type"], i.get("indexed")) for i in entry["inputs"])  # type: ignore[attr-defined]
    outputs = tuple(o["type"] for o in entry.get("outputs", []))  # type: ignore[attr-defined]
    return (entry["type"], entry["name"], inputs, outputs, entry.get("stateMutability"))


def _compiled(artifact: Path) -> dict[tuple[object, object], tuple[object, ...]]:
    return {(e["type"], e.get("name")): _signature(e) for e in json.loads(artifact.read_text())["abi"] if "name" in e}


def test_every_shipped_entry_matches_the_compiled_contract(artifact: Path) -> None:
    compiled = _compiled(artifact)
    for entry in ANCHOR_ABI:
        key = (entry["type"], entry["name"])
        assert key in compiled, f"{key} is not in the compiled ABI"
        assert _signature(entry) == compiled[key], f"{key} differs from the compiled ABI"


def test_v2_entries_are_shipped() -> None:
    shipped = {(e["type"], e["name"]) for e in ANCHOR_ABI}
    assert shipped >= V2_ONLY
    assert ("function", "setAnchorer") in shipped


def test_shared_entries_match_the_v1_contract_and_v2_entries_are_absent_from_it() -> None:
    assert ARTIFACT_V1.exists(), f"{ARTIFACT_V1} is missing: scripts/test runs `forge build` first"
    compiled = _compiled(ARTIFACT_V1)
    for entry in ANCHOR_ABI:
        key = (entry["type"], entry["name"])
        if key in V2_ONLY:
            assert key not in compiled, f"{key} is in the v1 ABI"
        else:
            assert key in compiled, f"{key} is not in the v1 ABI"
            assert _signature(entry) == compiled[key], f"{key} differs from the v1 ABI"


def test_v1_keeps_its_errors_and_events(artifact: Path) -> None:
    """Deployed v1 contracts emit these: v1 keeps their names (and so selectors and topics), and v2 too."""
    v1 = _compiled(ARTIFACT_V1)
    v2 = _compiled(artifact)
    for key in [
        ("error", "PacSpaceAnchorUnauthorizedAnchorer"),
        ("error", "PacSpaceAnchorNonContiguousStart"),
        ("error", "PacSpaceAnchorEmptyBatch"),
        ("error", "PacSpaceAnchorZeroRoot"),
        ("error", "PacSpaceAnchorZeroAddress"),
        ("event", "BatchAnchored"),
        ("event", "AnchorerUpdated"),
    ]:
        assert key in v1, key
        assert v1[key] == v2[key], key
    assert ("error", "PacSpaceAnchorSignerExists") in v2
    assert ("error", "PacSpaceAnchorSignerNotActive") in v2


def test_every_custom_error_of_both_versions_is_shipped(artifact: Path) -> None:
    """So every revert either contract can raise decodes to its name (node/chain/reverts.py)."""
    shipped = {e["name"] for e in ANCHOR_ABI if e["type"] == "error"}
    v2_only = {name for kind, name in V2_ONLY if kind == "error"}
    assert {name for kind, name in _compiled(artifact) if kind == "error"} == shipped
    assert {name for kind, name in _compiled(ARTIFACT_V1) if kind == "error"} == shipped - v2_only
