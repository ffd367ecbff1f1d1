"""Chain failures arrive as node/chain/errors.py classes, the contract's custom errors decoded
through the ABI: against a real Anvil and both contract versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3.types import RPCEndpoint

from node.chain import rpc
from node.chain.client import AnchorClient, account_from_key, connect
from node.chain.errors import ChainRejected, ChainReverted, ChainUnavailable, TransactionAlreadyKnown
from node.dev.chain import DEV_ANCHORER_KEY, DEV_OWNER_KEY, Anvil, deploy_dev_contract_v1
from node.keys.signers import set_anchorer
from tests.conftest import Deployment, start_node
from tests.support import wait_until

# Anvil's dev account 4: funded, and not an anchorer of a freshly deployed contract.
OUTSIDER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
ROOT = bytes(range(1, 33))


@pytest.fixture(params=["v2", "v1"])
def any_version(request: pytest.FixtureRequest, deployment: Deployment, anvil: Anvil) -> Deployment:
    if request.param == "v2":
        return deployment
    return Deployment(anvil.rpc_url, deploy_dev_contract_v1(anvil.rpc_url))


def _anchor(chain: AnchorClient, start_index: int) -> None:
    _tx, raw = chain.sign_anchor(start_index=start_index, count=2, root=ROOT, nonce=chain.pending_nonce())
    chain.broadcast(raw)


def test_a_wrong_start_index_reverts_with_expected_and_provided(any_version: Deployment) -> None:
    chain = any_version.client()
    _anchor(chain, 0)
    with pytest.raises(ChainReverted) as refused:
        chain.sign_anchor(start_index=7, count=1, root=ROOT, nonce=chain.pending_nonce())
    assert refused.value.name == "PacSpaceAnchorNonContiguousStart"
    assert refused.value.arguments == {"expected": 2, "provided": 7}
    assert refused.value.detail == "the contract reverted: PacSpaceAnchorNonContiguousStart(expected=2, provided=7)"
    assert chain.next_index() == 2  # refused at the gas estimate: nothing was sent


def test_a_key_that_is_not_an_anchorer_reverts_with_its_address(any_version: Deployment) -> None:
    outsider = AnchorClient(connect(any_version.rpc_url), any_version.address, account_from_key(OUTSIDER_KEY))
    with pytest.raises(ChainReverted) as refused:
        outsider.sign_anchor(start_index=0, count=1, root=ROOT, nonce=outsider.pending_nonce())
    assert refused.value.name == "PacSpaceAnchorUnauthorizedAnchorer"
    assert refused.value.arguments == {"account": Account.from_key(OUTSIDER_KEY).address}


def test_an_empty_batch_and_a_zero_root_revert_by_name(deployment: Deployment) -> None:
    chain = deployment.client()
    for count, root, name in [(0, ROOT, "PacSpaceAnchorEmptyBatch"), (1, bytes(32), "PacSpaceAnchorZeroRoot")]:
        with pytest.raises(ChainReverted) as refused:
            chain.sign_anchor(start_index=0, count=count, root=root, nonce=chain.pending_nonce())
        assert (refused.value.name, refused.value.arguments) == (name, {})
        assert refused.value.detail == f"the contract reverted: {name}()"


def test_resending_a_transaction_is_classified_by_the_rpc_adapter(deployment: Deployment) -> None:
    chain = deployment.client()
    _tx, raw = chain.sign_anchor(start_index=0, count=1, root=ROOT, nonce=chain.pending_nonce())
    anvil = chain.w3.provider
    anvil.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        chain.broadcast(raw)
        assert chain.is_pending_transaction(_tx)
        with pytest.raises(TransactionAlreadyKnown):
            rpc.call(lambda: chain.w3.eth.send_raw_transaction(raw))
        chain.broadcast(raw)  # the RPC already has it: not an error
        anvil.make_request(RPCEndpoint("evm_mine"), [])
    finally:
        anvil.make_request(RPCEndpoint("evm_setAutomine"), [True])
    wait_until(lambda: chain.next_index() == 1, "the anchor transaction is mined")
    with pytest.raises(ChainRejected, match="nonce too low"):
        chain.broadcast(raw)  # mined: its nonce is used up
    down = AnchorClient(connect("http://127.0.0.1:9", timeout=2), deployment.address)
    with pytest.raises(ChainUnavailable, match="RPC unreachable"):
        down.next_index()


def test_healthz_shows_the_decoded_revert_when_the_anchoring_key_is_removed(
    deployment: Deployment, tmp_path: Path
) -> None:
    node = start_node(deployment, tmp_path)
    try:
        anchorer = Account.from_key(DEV_ANCHORER_KEY).address
        chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
        set_anchorer(chain, Account.from_key(DEV_OWNER_KEY), bytes.fromhex(anchorer[2:]), False)
        with node.client() as client:
            response = client.post(
                "/v1/balance/delta", json={"customerId": "c", "delta": 1, "reason": "usage", "referenceId": "r1"}
            )
            assert response.status_code == 201, response.text
        health = wait_until(
            lambda: (h := httpx.get(f"{node.base_url}/healthz").json())["lastAnchorError"] and h,
            "the anchoring job reports the refusal",
        )
    finally:
        node.stop()
    assert health["status"] == "degraded"
    assert health["lastAnchorError"] == (
        f"ChainReverted: the contract reverted: PacSpaceAnchorUnauthorizedAnchorer(account={anchorer})"
    )


def test_the_anchor_transaction_and_the_log_reads_are_the_ones_web3_s_contract_functions_make(
    any_version: Deployment,
) -> None:
    """sign_anchor, next_index and stored_commitment encode their calls by hand (node.chain.abi.encode_call);
    the signed transaction and the answers are those of web3's contract functions, on both versions."""
    chain = any_version.client()
    account = chain.account
    built: list[dict[str, object]] = []

    class Recording:
        address = account.address

        def sign_transaction(self, tx: dict[str, object]) -> object:
            built.append(dict(tx))
            return account.sign_transaction(tx)

    chain._account = Recording()  # type: ignore[assignment]
    _tx, raw = chain.sign_anchor(start_index=0, count=2, root=ROOT, nonce=chain.pending_nonce())
    keys = ("from", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "chainId")
    params: Any = {k: built[0][k] for k in keys}
    expected = chain.contract.functions.anchor(0, 2, ROOT).build_transaction(params)
    assert built == [dict(expected)]
    chain.broadcast(raw)
    wait_until(lambda: chain.next_index() == 2, "the anchor was not mined")
    assert chain.next_index() == chain.contract.functions.nextIndex().call() == 2
    for start in (0, 2):
        assert chain.stored_commitment(start) == chain.contract.functions.batchCommitment(start).call()
    assert chain.stored_commitment(0) != bytes(32) and chain.stored_commitment(2) == bytes(32)
