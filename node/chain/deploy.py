"""Deploying the anchor contract (either version) from its forge artifact."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from web3 import Web3


@dataclass(frozen=True)
class DeployedContract:
    address: str  # checksummed
    tx_hash: bytes  # the creation transaction
    constructor_args: bytes  # ABI-encoded, as explorers ask for them


def load_artifact(path: Path) -> tuple[list[dict[str, Any]], str]:
    """ABI and creation bytecode from a forge artifact (out/PacSpaceAnchor.sol/PacSpaceAnchor.json)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; build the contracts with scripts/bootstrap (forge build)")
    data = json.loads(path.read_text())
    return data["abi"], data["bytecode"]["object"]


def deploy_anchor_contract(
    w3: Web3,
    *,
    deployer: LocalAccount,
    owner: str,
    anchorer: str,
    artifact: Path,
    signer: str | None = None,
    first_index: int = 0,
    timeout: float = 60.0,
) -> DeployedContract:
    """Deploy PacSpaceAnchor v2(owner, anchorer, signer, first_index) and wait until it is mined.

    ``signer`` (the first receipt signer) defaults to the anchorer; ``first_index`` is where the log
    starts (0 for a new log, or a v1 contract's nextIndex to continue its log). Returns the address with
    the creation transaction and the encoded constructor arguments (what an explorer asks for).
    """
    args = [
        Web3.to_checksum_address(owner),
        Web3.to_checksum_address(anchorer),
        Web3.to_checksum_address(signer if signer is not None else anchorer),
        first_index,
    ]
    return _deploy_contract(w3, deployer=deployer, artifact=artifact, args=args, timeout=timeout)


def deploy_anchor_v1(
    w3: Web3, *, deployer: LocalAccount, owner: str, anchorer: str, artifact: Path, timeout: float = 60.0
) -> str:
    """Deploy the protocol v1 contract PacSpaceAnchorV1(owner, anchorer); returns the address once mined.

    ``artifact`` is out/PacSpaceAnchorV1.sol/PacSpaceAnchorV1.json. For tests and tools that need a
    real v1 contract; new deployments use :func:`deploy_anchor_contract`.
    """
    args = [Web3.to_checksum_address(owner), Web3.to_checksum_address(anchorer)]
    return _deploy_contract(w3, deployer=deployer, artifact=artifact, args=args, timeout=timeout).address


def _deploy_contract(
    w3: Web3, *, deployer: LocalAccount, artifact: Path, args: list[Any], timeout: float
) -> DeployedContract:
    abi, bytecode = load_artifact(artifact)
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(*args).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = deployer.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise RuntimeError(f"deployment transaction 0x{bytes(tx_hash).hex()} failed")
    (constructor,) = [entry for entry in abi if entry["type"] == "constructor"] or [{"inputs": []}]
    types = [str(arg["type"]) for arg in constructor["inputs"]]
    return DeployedContract(str(receipt["contractAddress"]), bytes(tx_hash), encode(types, args))
