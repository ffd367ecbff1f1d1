"""``pacspace-node deploy`` writes what an explorer needs, and it is enough: the standard-JSON input it
writes, compiled by solc with no access to any other file, gives the bytecode the chain holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_typing import Hash32

from node.chain.client import connect
from node.dev.chain import DEV_ANCHORER_KEY, DEV_OWNER_KEY, Anvil
from tests.conftest import REPO

# solcjs from package-lock.json, called without an import callback: a source missing from the input fails.
_COMPILE = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""


def _compile(standard_input: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        ["node", "-e", _COMPILE, str(REPO / "node_modules" / "solc")],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    output: dict[str, Any] = json.loads(result.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    return output


def test_deploy_writes_a_standard_json_input_that_recompiles_to_the_deployed_bytecode(
    anvil: Anvil, tmp_path: Path
) -> None:
    out = tmp_path / "verify"
    anchorer = Account.from_key(DEV_ANCHORER_KEY).address
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "deploy", "--rpc-url", anvil.rpc_url, "--anchorer", anchorer,
         "--verification-dir", str(out)],
        cwd=REPO, env={"PACSPACE_DEPLOYER_KEY": DEV_OWNER_KEY, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    address = result.stdout.strip().splitlines()[0]
    assert DEV_OWNER_KEY.removeprefix("0x") not in result.stdout + result.stderr

    standard = json.loads((out / "PacSpaceAnchor.standard-input.json").read_text())
    metadata = (out / "PacSpaceAnchor.metadata.json").read_text()
    args = bytes.fromhex((out / "PacSpaceAnchor.constructor-args.txt").read_text().strip())
    sourcify = json.loads((out / "sourcify-request.json").read_text())
    compiled = _compile(standard)["contracts"]["contracts/src/PacSpaceAnchor.sol"]["PacSpaceAnchor"]

    w3 = connect(anvil.rpc_url)
    on_chain = bytes(w3.eth.get_code(w3.to_checksum_address(address)))
    assert bytes.fromhex(compiled["evm"]["deployedBytecode"]["object"]) == on_chain, "runtime code matches exactly"
    assert compiled["metadata"] == metadata, "so does the metadata whose hash the bytecode carries"
    creation = json.loads((out / "deployment.json").read_text())["creationTransaction"]
    tx_input = bytes(w3.eth.get_transaction(Hash32(bytes.fromhex(creation[2:])))["input"])
    assert tx_input == bytes.fromhex(compiled["evm"]["bytecode"]["object"]) + args, "creation code + arguments"
    assert sourcify["stdJsonInput"] == standard
    assert sourcify["contractIdentifier"] == "contracts/src/PacSpaceAnchor.sol:PacSpaceAnchor"
    assert sourcify["compilerVersion"] == json.loads(metadata)["compiler"]["version"]
    for expected in (
        f"https://sourcify.dev/server/v2/verify/31337/{address}",
        "solidity-standard-json-input",
        "Blockscout",
        f"v{sourcify['compilerVersion']}",
    ):
        assert expected in result.stderr, expected


def test_a_source_changed_since_the_build_is_refused(tmp_path: Path) -> None:
    from node.chain.explorer import SourceMismatch, standard_json_input

    artifact = json.loads((REPO / "out" / "PacSpaceAnchor.sol" / "PacSpaceAnchor.json").read_text())
    metadata = json.loads(artifact["rawMetadata"])
    for name in metadata["sources"]:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
    assert standard_json_input(metadata, tmp_path)["sources"].keys() == metadata["sources"].keys()
    edited = tmp_path / "contracts" / "src" / "PacSpaceAnchor.sol"
    edited.write_text(edited.read_text() + "\n// edited\n")
    try:
        standard_json_input(metadata, tmp_path)
    except SourceMismatch as exc:
        assert "contracts/src/PacSpaceAnchor.sol changed" in str(exc)
    else:
        raise AssertionError("an edited source was accepted")
