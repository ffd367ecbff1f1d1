"""The verifier is a package of its own (verifier/, pacspace-verify): it never imports the node, and
``pip install ./verifier`` into a fresh virtualenv, with no node in it, gives a ``pacspace-verify``
that verifies a real node's bundle and export against a real Anvil.

The virtualenv is made once per session (pip builds the wheel and takes the dependencies from
its cache or index); every test of this module runs on one xdist worker (tests/conftest.py).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from node.dev.chain import free_port
from tests.conftest import Deployment, RunningNode, wait_for_status
from tests.integration.test_key_rotation import forge_with_revoked_key, record_rotate_revoke
from tests.support import VERIFIER_DIR
from tests.vectors.replay import ReplayServer

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

PACKAGE = VERIFIER_DIR / "src" / "pacspace_verify"
# Import names of the distributions verifier/pyproject.toml declares (and of its "fast" extra).
DECLARED = {"eth-account": "eth_account", "eth-abi": "eth_abi", "eth-utils": "eth_utils"}
FAST = {"safe-pysha3": "sha3", "coincurve": "coincurve"}


def _imported(path: Path) -> set[str]:
    """The top-level modules a file imports: import statements, and the names handed to
    importlib.import_module or the verifier's own ``_optional`` (its optional accelerators)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            found.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "_optional", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value.split(".")[0])
    return found


def test_the_verifier_imports_only_the_standard_library_and_its_declared_dependencies() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 12
    imported = set().union(*(_imported(f) for f in files))
    third_party = imported - set(sys.stdlib_module_names) - {"pacspace_verify", "__future__"}
    assert "node" not in imported
    assert third_party == set(DECLARED.values()) | set(FAST.values()), third_party
    project = tomllib.loads((VERIFIER_DIR / "pyproject.toml").read_text())["project"]
    names = [d.split(">")[0].split("=")[0].split("[")[0].strip() for d in project["dependencies"]]
    assert sorted(names) == sorted(DECLARED)
    fast = [d.split(">")[0].strip() for d in project["optional-dependencies"]["fast"]]
    assert sorted(fast) == sorted(FAST)


_WITHOUT_THE_NODE = """
import importlib, json, pkgutil, sys
sys.modules["node"] = None  # import node -> ImportError, wherever it is attempted
sys.modules["web3"] = None  # and web3, which the verifier no longer needs
import pacspace_verify
for info in pkgutil.iter_modules(pacspace_verify.__path__):
    if info.name != "__main__":
        importlib.import_module("pacspace_verify." + info.name)
from pacspace_verify.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_verifier_runs_with_the_node_unimportable(tmp_path: Path) -> None:
    """A committed v1 vector, its chain answered from the vector's transcript: all 14 checks pass."""
    vector = json.loads(next(iter(sorted(VECTORS.glob("v1/bundle/valid-*.json")))).read_text())
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(vector["input"]))
    with ReplayServer(vector["rpc"]).serve() as rpc:
        run = subprocess.run(
            [sys.executable, "-c", _WITHOUT_THE_NODE, str(bundle), "--rpc", rpc, "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    checks = {c["name"]: c["ok"] for c in json.loads(run.stdout)["checks"]}
    assert len(checks) == 14 and all(checks.values())
    unreachable = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_NODE, str(bundle), "--rpc", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert unreachable.returncode == 2 and "RPC unreachable" in unreachable.stderr


@pytest.mark.parametrize("mode", [[], ["derive"], ["checkpoint"], ["evidence"]])
def test_help_names_docs_protocol_wherever_it_cites_a_section(mode: list[str], capsys: Any) -> None:
    from pacspace_verify.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*mode, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {' '.join(['pacspace-verify', *mode])} ")
    citing = [line for line in text.splitlines() if re.search(r"\bsections? [0-9]", line)]
    assert citing, "the help cites no section"
    assert [line for line in citing if "docs/PROTOCOL.md" not in line] == []


@dataclass(frozen=True)
class Venv:
    python: Path
    command: Path

    def run(self, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.command), *args], capture_output=True, text=True, cwd=cwd, input=stdin, env=_ENV, timeout=300
        )


# An auditor's shell: not the test run's ETH_HASH_BACKEND=pysha3 (safe-pysha3 is the "fast" extra,
# not installed here), nothing of the node's environment on the path.
_ENV = {k: v for k, v in os.environ.items() if k not in ("ETH_HASH_BACKEND", "PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """A fresh virtualenv with nothing but ``pip install ./verifier`` in it, made once per session."""
    root = tmp_path_factory.mktemp("verifier-venv")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    python = root / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "./verifier"],
        cwd=VERIFIER_DIR.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    yield Venv(python, root / "venv" / "bin" / "pacspace-verify")


def test_pip_install_gives_a_pacspace_verify_command_without_the_node(venv: Venv, tmp_path: Path) -> None:
    helped = venv.run("--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: pacspace-verify ")
    assert "docs/PROTOCOL.md, section 4: Proof bundle" in helped.stdout
    for mode in ("derive", "checkpoint", "evidence"):
        assert venv.run(mode, "--help", cwd=tmp_path).returncode == 0, mode
    probe = "import importlib.util as u; print([m for m in ('node', 'web3', 'pacspace_verify') if u.find_spec(m)])"
    found = subprocess.run(
        [str(venv.python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=_ENV, check=True
    )
    assert found.stdout.strip() == "['pacspace_verify']"
    # The installed package, not the checkout's source.
    where = subprocess.run(
        [str(venv.python), "-c", "import pacspace_verify; print(pacspace_verify.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv.python.parents[1])


def _verified_deltas(node: RunningNode, customer: str, count: int) -> tuple[dict[str, Any], str]:
    """``count`` deltas of one customer, all verified: the last one's bundle and the export."""
    with node.client() as client:
        receipts = [
            client.post(
                "/v1/balance/delta",
                json={"customerId": customer, "delta": 10 - i, "reason": "usage", "referenceId": f"pkg-{i}"},
            ).json()
            for i in range(count)
        ]
        for receipt in receipts:
            wait_for_status(client, receipt["receiptId"], "verified")
        bundle: dict[str, Any] = client.get(f"/v1/receipts/{receipts[-1]['receiptId']}/proof").json()
        export = client.get("/v1/balance/export", params={"customerId": customer})
        assert export.status_code == 200
        return bundle, export.text


def test_the_installed_command_verifies_a_bundle_and_an_export_against_anvil(
    venv: Venv, node: RunningNode, deployment: Deployment, tmp_path: Path
) -> None:
    bundle, export = _verified_deltas(node, "cust_pkg", 3)
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    chain = ["--rpc", deployment.rpc_url, "--contract", deployment.address]
    checked = venv.run("bundle.json", *chain, "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["ok"] is True and report["contractPinned"] is True
    assert [c["ok"] for c in report["checks"]] == [True] * 14
    derived = venv.run("derive", "-", *chain, cwd=tmp_path, stdin=export)
    assert derived.returncode == 0, derived.stdout + derived.stderr
    assert derived.stdout.splitlines()[-1] == "derived: balance 27 over 3 verified deltas"
    assert derived.stderr == ""  # no progress bar: stderr is a pipe
    bundle["typedData"]["message"]["delta"] = "-1"
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    forged = venv.run("bundle.json", *chain, cwd=tmp_path)
    assert forged.returncode == 1 and "✗ fingerprint" in forged.stdout


def test_the_installed_command_verifies_every_receipt_across_a_key_rotation(
    venv: Venv, deployment: Deployment, tmp_path: Path
) -> None:
    """Record, rotate, revoke: old and new receipts verify with only the verifier installed."""
    run = record_rotate_revoke(deployment, tmp_path)
    chain = ["--rpc", deployment.rpc_url, "--contract", deployment.address]
    for bundle in run.bundles:
        (tmp_path / "bundle.json").write_text(json.dumps(bundle))
        checked = venv.run("bundle.json", *chain, cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    derived = venv.run("derive", "-", *chain, cwd=tmp_path, stdin=run.export)
    assert derived.returncode == 0, derived.stdout + derived.stderr
    assert derived.stdout.splitlines()[-1] == "derived: balance 70 over 7 verified deltas"
    (tmp_path / "forged.json").write_text(json.dumps(forge_with_revoked_key(run.bundles[-1], run.old_signer)))
    forged = venv.run("forged.json", *chain, cwd=tmp_path)
    assert forged.returncode == 1 and "✗ anchorer" in forged.stdout
