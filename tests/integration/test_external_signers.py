"""Keys off the node: both keys held by an external JSON-RPC signer, here Anvil's own unlocked accounts
(``eth_signTransaction`` for the anchoring transaction, ``eth_signTypedData_v4`` for receipts and
checkpoints), a real implementation of the interface Web3Signer serves.

A signer that signs with another key or returns another transaction than asked is refused; one that
is down makes recording answer 503 with nothing stored, and a retry then records the delta once.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3

from node.chain.client import AnchorClient, connect
from node.chain.errors import ChainMismatch
from node.chain.remote_signers import RemoteSignerError, RemoteTransactionSigner, RemoteTypedDataSigner
from node.core.hashing import from_hex, keccak256
from node.core.signing import Signer, recover_signer
from node.dev.chain import DEV_ANCHORER_KEY
from tests.conftest import Deployment, start_node, wait_for_status
from tests.rpc_proxy import RpcProxy

ANVIL_ACCOUNT_1 = Account.from_key(DEV_ANCHORER_KEY).address  # anchorer and receipt signer of the dev contract
ANVIL_ACCOUNT_2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # unlocked too, but authorised for nothing


@pytest.fixture
def signer_proxy(deployment: Deployment) -> Iterator[RpcProxy]:
    proxy = RpcProxy(deployment.rpc_url)
    yield proxy
    proxy.close()


def _remote(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "signer_key": None,
        "receipt_signer_url": url,
        "receipt_signer_address": ANVIL_ACCOUNT_1,
        "anchor_signer_url": url,
        "anchor_address": ANVIL_ACCOUNT_1,
        **extra,
    }


def test_both_keys_held_by_an_external_signer(deployment: Deployment, tmp_path: Path, signer_proxy: RpcProxy) -> None:
    node = start_node(deployment, tmp_path, **_remote(signer_proxy.url))
    try:
        assert node.services.anchor.chain.account.address == ANVIL_ACCOUNT_1
        with node.client() as client:
            receipt = client.post(
                "/v1/balance/delta", json={"customerId": "c1", "delta": 9, "reason": "usage", "referenceId": "ext-1"}
            ).json()
            verified = wait_for_status(client, str(receipt["receiptId"]), "verified")
            checkpoint = client.post("/v1/checkpoints", json={"customerId": "c1"}).json()
            proof = client.get(f"/v1/receipts/{receipt['receiptId']}/proof").json()
            health = client.get("/healthz").json()
    finally:
        node.stop()
    assert receipt["signer"] == ANVIL_ACCOUNT_1.lower()
    assert recover_signer(from_hex(receipt["fingerprint"]), from_hex(receipt["signature"])) == from_hex(
        ANVIL_ACCOUNT_1.lower()
    )
    assert verified["txHash"] == proof["batch"]["txHash"]
    raw = node.services.anchor.chain.w3.eth.get_raw_transaction(proof["batch"]["txHash"])
    assert Account.recover_transaction(raw) == ANVIL_ACCOUNT_1, "the anchoring transaction was signed remotely"
    assert checkpoint["signer"] == ANVIL_ACCOUNT_1.lower()
    assert health["anchorer"] == ANVIL_ACCOUNT_1.lower() and health["signer"] == ANVIL_ACCOUNT_1.lower()
    methods = signer_proxy.methods
    assert methods["eth_signTypedData_v4"] >= 3, "the check at start, the receipt and the checkpoint"
    assert methods["eth_signTransaction"] >= 1


def test_a_signer_down_answers_503_and_stores_nothing(
    deployment: Deployment, tmp_path: Path, signer_proxy: RpcProxy
) -> None:
    node = start_node(deployment, tmp_path, **_remote(signer_proxy.url))
    body = {"customerId": "c1", "delta": 3, "reason": "usage", "referenceId": "ext-down"}
    try:
        with node.client() as client:
            signer_proxy.kill()
            down = client.post("/v1/balance/delta", json=body)
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.json()["code"] == "signer_unavailable"
            signer_proxy.revive()
            again = client.post("/v1/balance/delta", json=body)
            assert again.status_code == 201, "nothing was stored the first time: the retry records it"
            assert client.post("/v1/balance/delta", json=body).status_code == 200
    finally:
        node.stop()


def test_a_signer_that_signs_with_another_key_is_refused(deployment: Deployment, signer_proxy: RpcProxy) -> None:
    def other_account(method: str, params: list[Any]) -> list[Any]:
        return [ANVIL_ACCOUNT_2, *params[1:]] if method == "eth_signTypedData_v4" else params

    signer_proxy.rewrite = other_account
    signer = RemoteTypedDataSigner(signer_proxy.url, from_hex(ANVIL_ACCOUNT_1.lower(), length=20))
    with pytest.raises(RemoteSignerError, match="does not recover to"):
        signer.check()


def test_a_signer_without_batches_is_asked_one_request_at_a_time(
    deployment: Deployment, signer_proxy: RpcProxy
) -> None:
    signer_proxy.batches = False
    remote = RemoteTypedDataSigner(signer_proxy.url, from_hex(ANVIL_ACCOUNT_1.lower(), length=20))
    local = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
    typed = [_check_typed_data(i) for i in range(3)]
    requests = [(digest, partial(lambda t: t, data)) for digest, data in typed]
    assert remote.sign_typed(requests) == local.sign_typed(requests)
    assert not remote._rpc.batches_supported and signer_proxy.methods["eth_signTypedData_v4"] == 3


def _check_typed_data(i: int) -> tuple[bytes, dict[str, Any]]:
    """A small EIP-712 message and its digest (eth-account computes it)."""
    data: dict[str, Any] = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Note": [{"name": "n", "type": "uint256"}],
        },
        "primaryType": "Note",
        "domain": {"name": "test"},
        "message": {"n": i},
    }
    message = encode_typed_data(full_message=data)
    return keccak256(b"\x19" + message.version + message.header + message.body), data


def test_a_signer_that_returns_another_transaction_is_refused(deployment: Deployment, signer_proxy: RpcProxy) -> None:
    def more_gas(method: str, params: list[Any]) -> list[Any]:
        if method == "eth_signTransaction":
            return [{**params[0], "gas": hex(int(params[0]["gas"], 16) + 1)}]
        return params

    signer_proxy.rewrite = more_gas
    signer = RemoteTransactionSigner(signer_proxy.url, ANVIL_ACCOUNT_1)
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address, signer)
    with pytest.raises(RemoteSignerError, match="fields gas differ"):
        chain.sign_anchor(start_index=0, count=1, root=b"\x01" * 32, nonce=chain.pending_nonce())


def test_the_remote_transaction_signature_is_the_local_one(deployment: Deployment) -> None:
    """Same transaction, same key: what the external signer returns decodes to what eth-account signs."""
    chain = deployment.client()
    remote = RemoteTransactionSigner(deployment.rpc_url, ANVIL_ACCOUNT_1)
    remote.check()
    tx = {
        "to": Web3.to_checksum_address(deployment.address),
        "data": "0x12345678",
        "value": 0,
        "gas": 100_000,
        "nonce": 7,
        "chainId": 31337,
        "maxFeePerGas": 3 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = remote.sign_transaction(tx)
    local = chain.account.sign_transaction({**tx, "type": 2})
    decoded = TypedTransaction.from_bytes(HexBytes(signed.raw_transaction)).as_dict()
    assert {k: decoded[k] for k in ("nonce", "gas", "maxFeePerGas", "value")} == {
        "nonce": 7,
        "gas": 100_000,
        "maxFeePerGas": 3 * 10**9,
        "value": 0,
    }
    assert Account.recover_transaction(signed.raw_transaction) == Account.recover_transaction(local.raw_transaction)


def test_an_external_receipt_signer_that_is_not_authorised_is_refused_at_start(
    deployment: Deployment, tmp_path: Path
) -> None:
    with pytest.raises(ChainMismatch, match="not an active receipt signer"):
        start_node(deployment, tmp_path, **_remote(deployment.rpc_url, receipt_signer_address=ANVIL_ACCOUNT_2))


def test_the_healthz_never_shows_the_signer_url(deployment: Deployment, tmp_path: Path, signer_proxy: RpcProxy) -> None:
    node = start_node(deployment, tmp_path, **_remote(f"{signer_proxy.url}/token/s3cr3t-signer-token"))
    try:
        text = httpx.get(f"{node.base_url}/healthz").text + httpx.get(f"{node.base_url}/metrics").text
    finally:
        node.stop()
    assert "s3cr3t-signer-token" not in text
