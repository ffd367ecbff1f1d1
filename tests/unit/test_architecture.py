"""The house's floors (docs/ARCHITECTURE.md) stay as drawn.

The import contracts themselves live in pyproject.toml (``[tool.importlinter]``) and ``scripts/test``
runs ``lint-imports`` on them. These tests hold what the contracts cannot: every package is on a
floor (a new package left off would be unchecked), ``node/`` has no loose service modules, no module
passes 400 lines, and the contracts really break on an upward import.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node"
TOP_LEVEL_MODULES = {"__init__", "app", "cli", "settings", "services"}  # the composition root and its inputs
STANDALONE = {"client"}  # checked by its own contract: it imports nothing of the node
MAX_LINES = 400


def _importlinter() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert isinstance(config, dict)
    return config


def _floors() -> list[list[str]]:
    contracts = _importlinter()["contracts"]
    assert isinstance(contracts, list)
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    return [[name.strip() for name in floor.split("|")] for floor in layers["layers"]]


def test_docs_architecture_draws_the_floors_of_pyproject() -> None:
    """docs/ARCHITECTURE.md's table of floors is pyproject's layers, top down, floor for floor."""
    table = re.findall(r"^\| (\d+) \| (.+?) \| .+ \|$", (ROOT / "docs" / "ARCHITECTURE.md").read_text(), re.M)
    drawn = [sorted(re.findall(r"`(node\.[a-z_]+)`", packages)) for _number, packages in table]
    assert [int(number) for number, _ in table] == list(range(1, len(table) + 1))
    assert drawn == [sorted(floor) for floor in _floors()]


def test_every_package_and_top_module_is_on_exactly_one_floor() -> None:
    on_floors = [name for floor in _floors() for name in floor]
    assert len(on_floors) == len(set(on_floors)), "a package is on two floors"
    present = {f"node.{p.name}" for p in NODE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    present |= {f"node.{p.stem}" for p in NODE.glob("*.py") if p.stem != "__init__"}
    present -= {f"node.{name}" for name in STANDALONE}
    assert present == set(on_floors), (
        f"not on a floor: {sorted(present - set(on_floors))}; on a floor but gone: {sorted(set(on_floors) - present)}"
    )


def test_node_has_no_loose_service_modules() -> None:
    loose = {p.stem for p in NODE.glob("*.py")} - TOP_LEVEL_MODULES
    assert not loose, f"put these in the package of their concept: {sorted(loose)}"


def test_no_module_is_over_400_lines() -> None:
    sources = [*NODE.rglob("*.py"), *(ROOT / "verifier" / "src").rglob("*.py")]
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concept: {long}"


def test_the_floor_contract_breaks_on_an_upward_import(tmp_path: Path) -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    shutil.copytree(NODE, tmp_path / "node", ignore=shutil.ignore_patterns("_build", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # the store (an adapter) reaching up into the API
    with (tmp_path / "node" / "store" / "leader.py").open("a") as f:
        f.write("\nimport node.api.deps  # noqa: E402\n")
    run = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "node.store.leader -> node.api.deps" in run.stdout
    assert "Floors: entry points, composition, faces, services, adapters, core BROKEN" in run.stdout
