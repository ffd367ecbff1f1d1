"""The zero-configuration local setup behind ``pacspace-node dev`` (what ./scripts/run starts).

Starts Anvil with its state kept in the data directory, deploys the anchor contract once,
creates the first API key once, and returns the settings to serve with. Anvil's first two
well-known accounts act as contract owner (0) and anchorer/receipt signer (1): they are
public keys, fine for a local chain and refused by Settings on any other chain.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from node.chain.client import account_from_key, connect
from node.chain.deploy import deploy_anchor_contract, deploy_anchor_v1

DEV_OWNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ANCHORER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DEV_CHAIN_ID = 31337
LOOPBACK_HOSTS = "127.0.0.1,localhost,::1"  # the webhook allowance of `pacspace-node dev`
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = REPO_ROOT / "out" / "PacSpaceAnchor.sol" / "PacSpaceAnchor.json"
# The protocol v1 contract, kept so that tests can run a real v1 deployment.
ARTIFACT_V1 = REPO_ROOT / "out" / "PacSpaceAnchorV1.sol" / "PacSpaceAnchorV1.json"


def find_anvil() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found is None:
        raise FileNotFoundError("anvil not found: run ./scripts/bootstrap (npm ci installs Foundry)")
    return found


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deploy_dev_contract(rpc_url: str, artifact: Path = ARTIFACT, *, first_index: int = 0) -> str:
    """Deploy the anchor contract (v2) on a dev chain: owner Anvil account 0, anchorer and first receipt
    signer account 1, the log starting at ``first_index``. Lowercase address."""
    owner = account_from_key(DEV_OWNER_KEY)
    anchorer = account_from_key(DEV_ANCHORER_KEY)
    return deploy_anchor_contract(
        connect(rpc_url),
        deployer=owner,
        owner=owner.address,
        anchorer=anchorer.address,
        artifact=artifact,
        first_index=first_index,
    ).address.lower()


def deploy_dev_contract_v1(rpc_url: str, artifact: Path = ARTIFACT_V1) -> str:
    """Deploy the protocol v1 contract on a dev chain: owner Anvil account 0, anchorer account 1. Lowercase address."""
    owner = account_from_key(DEV_OWNER_KEY)
    anchorer = account_from_key(DEV_ANCHORER_KEY)
    return deploy_anchor_v1(
        connect(rpc_url), deployer=owner, owner=owner.address, anchorer=anchorer.address, artifact=artifact
    ).lower()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Anvil:
    process: subprocess.Popen[bytes]
    rpc_url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: Anvil writes its state file on the way out
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_anvil(
    *, host: str = "127.0.0.1", port: int = 8545, state_file: Path | None = None, block_time: float | None = None
) -> Anvil:
    if port_open(host, port):
        raise RuntimeError(f"{host}:{port} is already in use; stop what is there or pass --chain-port")
    cmd = [find_anvil(), "--host", host, "--port", str(port), "--chain-id", str(DEV_CHAIN_ID), "--silent"]
    if state_file is not None:
        cmd += ["--state", str(state_file), "--state-interval", "5"]
    if block_time is not None:
        cmd += ["--block-time", str(block_time)]
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 15
    while not port_open(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"anvil did not start on {host}:{port}")
        time.sleep(0.02)
    return Anvil(process, f"http://{host}:{port}")


def ensure_contract(*, rpc_url: str, data_dir: Path) -> tuple[str, bool]:
    """The dev contract's address, deploying it when the chain does not have it. Returns (address, deployed)."""
    record = data_dir / "dev-contract.json"
    w3 = connect(rpc_url)
    if record.exists():
        address = json.loads(record.read_text())["contractAddress"]
        if len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0:
            return address, False
    address = deploy_dev_contract(rpc_url)
    record.write_text(json.dumps({"chainId": DEV_CHAIN_ID, "contractAddress": address}, indent=2))
    return address, True


def dev_environment(*, data_dir: Path, rpc_url: str, contract_address: str) -> dict[str, str]:
    return {
        "PACSPACE_DATABASE_URL": f"sqlite:///{data_dir / 'pacspace.db'}",
        "PACSPACE_RPC_URL": rpc_url,
        "PACSPACE_CHAIN_ID": str(DEV_CHAIN_ID),
        "PACSPACE_CONTRACT_ADDRESS": contract_address,
        "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
        # A local receiver on this machine may get webhooks in development: an explicit allowance (the
        # default allows no private or loopback destination), as an operator would write it.
        "PACSPACE_WEBHOOK_ALLOW_PRIVATE_HOSTS": os.environ.get("PACSPACE_WEBHOOK_ALLOW_PRIVATE_HOSTS", LOOPBACK_HOSTS),
    }


def retire_database(data_dir: Path) -> Path | None:
    """A fresh contract means the old database's log cannot be proven any more: move it aside."""
    db = data_dir / "pacspace.db"
    if not db.exists():
        return None
    target = data_dir / f"pacspace.db.orphaned-{int(time.time())}"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(db) + suffix)
        if src.exists():
            os.replace(src, Path(str(target) + suffix))
    for name in ("api-key",):
        (data_dir / name).unlink(missing_ok=True)
    return target
