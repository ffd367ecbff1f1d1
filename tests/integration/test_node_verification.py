"""The node's own bundle checks (node.verification, behind the dashboard's "verify against the
chain") give the auditor's verifier script's verdict, check by check, on the same bundles:
a genuine one and one edit per failure mode, against the same real Anvil and contract."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.chain.client import AnchorClient, account_from_key, connect
from node.devchain import DEV_ANCHORER_KEY, DEV_OWNER_KEY, Anvil
from node.verification import verify_bundle
from tests.conftest import Deployment, deploy_fresh, free_port, start_node, wait_for_status
from tests.support import BundleEdit, load_verifier, set_at

VERIFIER = load_verifier()


@pytest.fixture(scope="module")
def deployed(anvil: Anvil, artifact: Path) -> Deployment:
    return deploy_fresh(anvil.rpc_url, artifact)


@pytest.fixture(scope="module")
def bundles(deployed: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Bundles of a delta without metadata and one with, from a real node."""
    node = start_node(deployed, tmp_path_factory.mktemp("verification"))
    try:
        with node.client() as client:
            plain = client.post(
                "/v1/balance/delta", json={"customerId": "v", "delta": 5, "reason": "usage", "referenceId": "nv1"}
            ).json()
            rich = client.post(
                "/v1/balance/delta",
                json={
                    "customerId": "v",
                    "delta": -(2**200),
                    "reason": "usage",
                    "referenceId": "nv2",
                    "metadata": {"sku": "a", "n": 3},
                },
            ).json()
            for receipt in (plain, rich):
                wait_for_status(client, receipt["receiptId"], "verified")
            yield {
                name: client.get(f"/v1/receipts/{r['receiptId']}/proof").json()
                for name, r in (("plain", plain), ("rich", rich))
            }
    finally:
        node.stop()


def _drop(key: str) -> BundleEdit:
    return lambda bundle: bundle.pop(key)


def _flip_hex(path: str) -> BundleEdit:
    """Change the last hex digit of a hex field (same length, still well formed)."""

    def edit(bundle: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = bundle
        for key in parents:
            target = target[key]
        value: str = target[last]
        target[last] = value[:-1] + ("0" if value[-1] != "0" else "1")

    return edit


def _extend_proof(bundle: dict[str, Any]) -> None:
    bundle["proof"] = [*bundle["proof"], "0x" + "11" * 32]


def _other_signer(bundle: dict[str, Any]) -> None:
    bundle["signer"] = account_from_key(DEV_OWNER_KEY).address.lower()


EDITS: dict[str, BundleEdit] = {
    "genuine": lambda bundle: None,
    "amount": set_at("typedData.message.delta", "-21"),
    "customer": set_at("typedData.message.customerId", "someone-else"),
    "metadata text": set_at("metadata", '{"sku":"b"}'),
    "metadata withheld": set_at("metadata", None),
    "metadata not canonical": set_at("metadata", '{"sku": "a"}'),
    "fingerprint": _flip_hex("fingerprint"),
    "signature v": lambda bundle: set_at("signature", bundle["signature"][:-2] + "1d")(bundle),
    "signer": _other_signer,
    "leaf": _flip_hex("leaf"),
    "proof longer": _extend_proof,
    "proof not a list": set_at("proof", "0x00"),
    "root": _flip_hex("batch.root"),
    "count": set_at("batch.count", 3),
    "start index": set_at("batch.startIndex", 1),
    "batch id": set_at("batch.id", 7),
    "transaction": set_at("batch.txHash", "0x" + "cd" * 32),
    "block hash": _flip_hex("batch.blockHash"),
    "block number": set_at("batch.blockNumber", 10**9),
    "log index": set_at("logIndex", 9),
    "chain id": set_at("chainId", 1),
    "contract": set_at("contract", "0x" + "12" * 20),
    "domain name": set_at("typedData.domain.name", "NotPacSpace"),
    "primary type": set_at("typedData.primaryType", "Checkpoint"),
    "version": set_at("version", "pacspace.proof.v0"),
    "no leaf": _drop("leaf"),
    "no batch": _drop("batch"),
    "uppercase hex": set_at("fingerprint", "0x" + "AB" * 32),
}


def _verdicts(bundle: dict[str, Any], deployment: Deployment, rpc_url: str, required: int) -> tuple[list[Any], ...]:
    chain = AnchorClient(connect(rpc_url), deployment.address, account_from_key(DEV_ANCHORER_KEY))
    ours = [(r.name, r.ok) for r in verify_bundle(bundle, chain, required_confirmations=required)]
    pinned = bytes.fromhex(deployment.address[2:])
    parsed = VERIFIER.bundle.parse_bundle(copy.deepcopy(bundle))
    theirs = VERIFIER.onchain.run_all_checks(parsed, VERIFIER.chain.RpcChain(rpc_url), pinned, required)
    return ours, [(r.name, r.ok) for r in theirs], [r.detail for r in theirs]


@pytest.mark.parametrize("which", ["plain", "rich"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_node_checks_agree_with_the_verifier_script(
    bundles: dict[str, dict[str, Any]], deployed: Deployment, which: str, edit: str
) -> None:
    bundle = copy.deepcopy(bundles[which])
    EDITS[edit](bundle)
    ours, theirs, details = _verdicts(bundle, deployed, deployed.rpc_url, required=1)
    assert ours == theirs, details
    assert all(ok for _name, ok in ours) == (bundle == bundles[which]), "an edit went unnoticed"


def test_confirmations_and_an_unreachable_chain_agree(bundles: dict[str, dict[str, Any]], deployed: Deployment) -> None:
    deep, deep_theirs, _ = _verdicts(bundles["plain"], deployed, deployed.rpc_url, required=10**6)
    assert deep == deep_theirs and [name for name, ok in deep if not ok] == ["confirmations"]
    dead_rpc = f"http://127.0.0.1:{free_port()}"
    down, down_theirs, _ = _verdicts(bundles["plain"], deployed, dead_rpc, required=1)
    assert down == down_theirs
    assert [name for name, ok in down if not ok] == [
        "chain_id", "anchorer", "commitment", "transaction", "block", "confirmations"
    ]  # fmt: skip
