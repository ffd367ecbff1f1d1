"""Deploying contract v2 and the protocol v1 contract from Python, on a real Anvil: both anchor through
the node's client, and a caller tells them apart by ``protocolVersion()``."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from node.chain.abi import ANCHOR_ABI
from node.chain.client import AnchorClient, account_from_key, connect
from node.chain.deploy import deploy_anchor_contract
from node.dev.chain import DEV_ANCHORER_KEY, DEV_OWNER_KEY, Anvil, deploy_dev_contract, deploy_dev_contract_v1

OPEN = 2**64 - 1


def _anchor(client: AnchorClient, start: int, count: int) -> None:
    tx_hash, raw = client.sign_anchor(start_index=start, count=count, root=b"\x01" * 32, nonce=client.pending_nonce())
    client.broadcast(raw)
    client.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)  # type: ignore[arg-type]
    mined = client.get_mined(tx_hash)
    assert mined is not None and mined.status == 1


def test_dev_contract_is_v2_with_the_anchorer_as_first_signer(anvil: Anvil) -> None:
    address = deploy_dev_contract(anvil.rpc_url)
    w3 = connect(anvil.rpc_url)
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=ANCHOR_ABI)
    anchorer = account_from_key(DEV_ANCHORER_KEY).address

    assert contract.functions.protocolVersion().call() == 2
    assert contract.functions.isAnchorer(anchorer).call()
    assert contract.functions.signerWindow(anchorer).call() == [0, OPEN, True]
    assert contract.functions.isSignerFor(anchorer, 0).call()

    client = AnchorClient(w3, address, account_from_key(DEV_ANCHORER_KEY))
    _anchor(client, 0, 3)
    assert client.next_index() == 3


def test_deploy_anchor_with_signer_and_first_index(anvil: Anvil, artifact: Path) -> None:
    w3 = connect(anvil.rpc_url)
    owner = account_from_key(DEV_OWNER_KEY)
    anchorer = account_from_key(DEV_ANCHORER_KEY).address
    signer = account_from_key("0x" + "11" * 32).address
    address = deploy_anchor_contract(
        w3, deployer=owner, owner=owner.address, anchorer=anchorer, artifact=artifact, signer=signer, first_index=500
    ).address
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=ANCHOR_ABI)

    assert contract.functions.nextIndex().call() == 500
    assert contract.functions.signerWindow(signer).call() == [500, OPEN, True]
    assert contract.functions.signerWindow(anchorer).call() == [0, 0, False]
    assert not contract.functions.isSignerFor(signer, 499).call()
    assert contract.functions.isSignerFor(signer, 500).call()

    client = AnchorClient(w3, address, account_from_key(DEV_ANCHORER_KEY))
    _anchor(client, 500, 2)
    assert client.next_index() == 502
    assert contract.functions.batchCount().call() == 1


def test_v1_contract_anchors_and_has_no_protocol_version(anvil: Anvil) -> None:
    address = deploy_dev_contract_v1(anvil.rpc_url)
    w3 = connect(anvil.rpc_url)
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=ANCHOR_ABI)
    anchorer = account_from_key(DEV_ANCHORER_KEY).address

    assert contract.functions.isAnchorer(anchorer).call()
    with pytest.raises(ContractLogicError):
        contract.functions.protocolVersion().call()
    with pytest.raises(ContractLogicError):
        contract.functions.isSignerFor(anchorer, 0).call()

    client = AnchorClient(w3, address, account_from_key(DEV_ANCHORER_KEY))
    _anchor(client, 0, 4)
    assert client.next_index() == 4
