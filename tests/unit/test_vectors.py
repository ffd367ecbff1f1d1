"""The committed protocol test vectors (tests/vectors/, format in tests/vectors/README.md).

Every vector file runs through the auditor's verifier CLI (its ``main``, in this process; a sample of
one vector per mode and outcome also as a real subprocess) against a replay server that answers
JSON-RPC from the vector's own transcript: its exit status and the set of failed check names must
be what the vector wants. Every bundle vector also runs through the
node's own checks (node.ledger.verification.verify_bundle, behind the dashboard's "verify"), pointed at
the same replay server, so the node judges the same files the same way.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from node.dev.chain import free_port
from node.ledger.verification import verify_bundle
from pacspace_verify.checkpoint import CHECKPOINT_CHECKS
from pacspace_verify.cli import main as verifier_main
from pacspace_verify.derive import EXPORT_CHECKS
from pacspace_verify.evidence import EVIDENCE_CHECKS
from pacspace_verify.protocol import CHECK_NAMES, VERSIONS
from tests.vectors.replay import NOT_RECORDED, ReplayServer, normalise

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
SCRIPT = ROOT / "scripts" / "verify_receipt.py"
MODES = ("bundle", "derive", "checkpoint", "evidence")
FILES = sorted(VECTORS.glob("v*/*/*.json"))
# The checks each mode names itself (derive's lines also run the bundle checks, covered by bundle).
MODE_CHECKS = {"bundle": CHECK_NAMES, "derive": EXPORT_CHECKS, "checkpoint": CHECKPOINT_CHECKS}
MODE_CHECKS["evidence"] = EVIDENCE_CHECKS
TOP_LEVEL = {"description", "protocol", "mode", "input", "inputText", "export", "options", "rpc"}
TOP_LEVEL |= {"rpcUnreachable", "want", "provenance"}


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS).with_suffix(""))


def load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return vector


def verifier_argv(vector: dict[str, Any], directory: Path, rpc: str) -> list[str]:
    """The verifier's command line for a vector, its input files written into ``directory``."""
    mode = vector["mode"]
    path = directory / ("input.jsonl" if mode == "derive" else "input.json")
    if "inputText" in vector:
        path.write_text(vector["inputText"], encoding="utf-8")
    elif mode == "derive":
        path.write_text("".join(json.dumps(line) + "\n" for line in vector["input"]), encoding="utf-8")
    elif mode != "checkpoint":
        path.write_text(json.dumps(vector["input"]), encoding="utf-8")
    options = ["--rpc", rpc, "--json", "--confirmations", str(vector["options"]["confirmations"])]
    if "contract" in vector["options"]:
        options += ["--contract", vector["options"]["contract"]]
    if mode == "bundle":
        return [str(path), *options]
    if mode == "evidence":
        return ["evidence", str(path), *options]
    if mode == "derive":
        return ["derive", str(path), "--quiet", *options]
    export = directory / "export.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in vector["export"]), encoding="utf-8")
    token: str = vector["inputText"] if "inputText" in vector else vector["input"]
    return ["checkpoint", token, "--export", str(export), "--quiet", *options]


def failed_checks(mode: str, report: dict[str, Any]) -> list[str]:
    """The names of the failed checks: derive lists failures per line, the others per check."""
    if mode == "derive":
        return sorted({f["check"] for f in report["failures"]})
    return sorted({c["name"] for c in report["checks"] if not c["ok"]})


def run_vector(
    vector: dict[str, Any], *, subprocess_run: bool = False
) -> tuple[int, list[str], subprocess.CompletedProcess[str]]:
    server = ReplayServer(vector.get("rpc", []))
    with tempfile.TemporaryDirectory() as tmp, server.serve() as replay_url:
        rpc = f"http://127.0.0.1:{free_port()}" if vector.get("rpcUnreachable") else replay_url
        argv = verifier_argv(vector, Path(tmp), rpc)
        if subprocess_run:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
            env["PYTHONIOENCODING"] = "utf-8"
            proc = subprocess.run(
                [sys.executable, str(SCRIPT), *argv],
                capture_output=True,
                text=True,
                encoding="utf-8",
                env=env,
                timeout=120,
                check=False,
            )
        else:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = verifier_main(argv)
            proc = subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    failed = [] if proc.returncode == 2 else failed_checks(vector["mode"], json.loads(proc.stdout))
    return proc.returncode, failed, proc


def _by_version() -> dict[str, list[Path]]:
    versions: dict[str, list[Path]] = {}
    for path in FILES:
        versions.setdefault(path.parts[-3], []).append(path)
    return versions


def test_there_are_vectors_for_every_mode() -> None:
    """Every protocol version the verifier knows has vectors, of every mode and outcome."""
    versions = _by_version()
    assert set(versions) == {f"v{n}" for n in VERSIONS}, sorted(versions)
    for version, paths in versions.items():
        kinds = {(load(path)["mode"], path.stem.split("-")[0]) for path in paths}
        assert kinds == {(m, k) for m in MODES for k in ("valid", "invalid", "unusable")}, (version, sorted(kinds))
    for path in FILES:
        assert path.parent.name == load(path)["mode"], f"{path}: in the directory of another mode"


@pytest.mark.parametrize("version", sorted(_by_version()))
def test_every_check_fails_in_some_vector_of_each_version(version: str) -> None:
    failing: dict[str, set[str]] = {mode: set() for mode in MODES}
    for path in _by_version()[version]:
        vector = load(path)
        failing[vector["mode"]] |= set(vector["want"]["failed"])
    missing = {mode: sorted(set(names) - failing[mode]) for mode, names in MODE_CHECKS.items()}
    assert not any(missing.values()), f"{version}: checks no vector fails: {missing}"


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_vector_file_is_well_formed(path: Path) -> None:
    vector = load(path)
    assert set(vector) <= TOP_LEVEL, set(vector) - TOP_LEVEL
    assert path.parts[-3] == f"v{vector['protocol']}", "in the directory of its protocol version"
    assert vector["mode"] in MODES and isinstance(vector["description"], str) and vector["description"]
    assert ("input" in vector) != ("inputText" in vector), "exactly one of input and inputText"
    assert ("export" in vector) == (vector["mode"] == "checkpoint")
    assert ("rpc" in vector) != bool(vector.get("rpcUnreachable")), "a transcript, or rpcUnreachable"
    assert set(vector["options"]) <= {"confirmations", "contract"} and "confirmations" in vector["options"]
    want = vector["want"]
    assert want["exit"] in (0, 1, 2)
    assert want["failed"] == sorted(set(want["failed"])), "failed is a sorted set of check names"
    assert (want["exit"] == 1) == bool(want["failed"]), "exit 1 exactly when some check fails"
    kind = path.stem.split("-")[0]
    assert kind == {0: "valid", 1: "invalid", 2: "unusable"}[want["exit"]], "named valid-/invalid-/unusable-"
    for entry in vector.get("rpc", []):
        assert set(entry) in ({"method", "params", "result"}, {"method", "params", "error"}), entry
        assert entry["params"] == normalise(entry["params"]), "params are stored in lowercase hex"


def _sample() -> list[Path]:
    """The first vector of each (version, mode, outcome): the command line itself, as a user runs it."""
    first: dict[tuple[str, str, str], Path] = {}
    for path in FILES:
        first.setdefault((path.parts[-3], path.parent.name, path.stem.split("-")[0]), path)
    return sorted(first.values())


@pytest.mark.parametrize("subprocess_run", [False, True], ids=["main", "subprocess"])
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_verifier_gives_what_the_vector_wants(path: Path, subprocess_run: bool) -> None:
    if subprocess_run and path not in SAMPLE:
        return  # each subprocess pays the verifier's imports: the sample proves the real command line
    vector = load(path)
    code, failed, proc = run_vector(vector, subprocess_run=subprocess_run)
    want = vector["want"]
    assert (code, failed) == (want["exit"], want["failed"]), proc.stdout[-3000:] + proc.stderr
    if code == 2:
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


SAMPLE = _sample()
PROTOCOL_VERSION_SELECTOR = "0x2ae9c600"  # protocolVersion()
BUNDLES = [p for p in FILES if p.parent.name == "bundle" and "input" in load(p) and load(p)["want"]["exit"] != 2]


@pytest.mark.parametrize("path", BUNDLES, ids=_id)
def test_node_checks_give_what_the_bundle_vector_wants(path: Path) -> None:
    """The node pins its configured contract: the vector's options.contract, else the bundle's own."""
    vector = load(path)
    bundle = vector["input"]
    contract = vector["options"].get("contract") or bundle["contract"]
    server = ReplayServer(vector["rpc"])
    with server.serve() as url:
        results = verify_bundle(
            copy.deepcopy(bundle),
            rpc_url=url,
            contract=contract,
            required_confirmations=vector["options"]["confirmations"],
        )
    assert sorted(r.name for r in results if not r.ok) == vector["want"]["failed"], [
        (r.name, r.detail) for r in results if not r.ok
    ]
    # Bundles judged by v1 rules probe protocolVersion() (a v1 bundle is only valid against a v1 contract);
    # vectors recorded before the probe lack it, and an unanswered probe reads as a v1 contract's revert.
    misses = [m for m in server.misses if PROTOCOL_VERSION_SELECTOR not in m]
    assert not misses, f"the node asked what the transcript does not hold: {misses}"


def test_replay_answers_only_what_was_recorded() -> None:
    server = ReplayServer([{"method": "eth_getCode", "params": ["0xabcdef", "latest"], "result": "0x60"}])
    assert server.answer({"id": 1, "method": "eth_getCode", "params": ["0xABCdef", "latest"]})["result"] == "0x60"
    miss = server.answer({"id": 2, "method": "eth_getCode", "params": ["0xabcdef", "pending"]})
    assert miss["error"]["code"] == NOT_RECORDED and miss["id"] == 2
    assert len(server.misses) == 1
