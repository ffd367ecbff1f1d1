"""Rotating the receipt signer and the anchoring key against a real v2 contract on Anvil.

Record with the first key, authorise a second, switch the node to it, revoke the first (refused
while any delta it signed is unanchored), and every receipt, old and new, still verifies with the
standalone verifier; a node refuses to start with a revoked key.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from node.chain.client import AnchorClient, connect
from node.chain.errors import ChainMismatch
from node.chain.owner import OwnerCallRefused
from node.core.hashing import from_hex
from node.dev.chain import DEV_ANCHORER_KEY, DEV_OWNER_KEY, Anvil, deploy_dev_contract_v1
from node.keys.signers import RotationRefused, authorise_signer, revoke_signer, set_anchorer
from node.store.db import Store
from node.store.migrate import upgrade
from tests.conftest import Deployment, RunningNode, start_node, wait_for_status
from tests.support import load_verifier

pytestmark = pytest.mark.chain

# Anvil's fourth and fifth well-known accounts: the next receipt signer and the next anchoring key.
NEW_SIGNER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
NEW_ANCHOR_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
VERIFIER = load_verifier()


def _address(key: str) -> bytes:
    return from_hex(Account.from_key(key).address.lower(), length=20)


def _record(node: RunningNode, *refs: str) -> list[str]:
    with node.client() as client:
        ids = []
        for ref in refs:
            response = client.post(
                "/v1/balance/delta", json={"customerId": "cust", "delta": 10, "reason": "usage", "referenceId": ref}
            )
            assert response.status_code == 201, response.text
            ids.append(str(response.json()["receiptId"]))
        return ids


def _verify(bundle: dict[str, Any], tmp_path: Path, rpc_url: str) -> dict[str, Any]:
    path = tmp_path / f"{bundle['receiptId']}.json"
    path.write_text(json.dumps(bundle))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = VERIFIER.main([str(path), "--rpc", rpc_url, "--contract", bundle["contract"], "--json"])
    report: dict[str, Any] = json.loads(out.getvalue())
    report["exit"] = code
    return report


@dataclass
class Rotation:
    """What a record, rotate, revoke run left: every receipt's bundle, the export and derive?verify=true."""

    bundles: list[dict[str, Any]]
    export: str
    derived: dict[str, Any]
    old_signer: bytes
    new_signer: bytes


def record_rotate_revoke(deployment: Deployment, tmp_path: Path) -> Rotation:
    """Four deltas by the first key (the last one left unanchored), a second key authorised, the node
    switched to it, the first revoked once everything it signed is anchored, then one more delta."""
    owner = Account.from_key(DEV_OWNER_KEY)
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    assert chain.protocol_version() == 2
    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    old_signer, new_signer = _address(DEV_ANCHORER_KEY), _address(NEW_SIGNER_KEY)

    first = start_node(deployment, tmp_path, db_url)
    try:
        old_ids = _record(first, "a1", "a2", "a3")
        with first.client() as client:
            for receipt_id in old_ids:
                wait_for_status(client, receipt_id, "verified")
    finally:
        first.stop()
    # One more delta by the old key that stays unanchored (this node does not anchor).
    stalled = start_node(deployment, tmp_path, db_url, run_anchorer=False)
    try:
        old_ids += _record(stalled, "a4")
    finally:
        stalled.stop()

    authorise_signer(chain, owner, new_signer)
    window = chain.signer_window(new_signer)
    assert window is not None and window.active and window.from_index == 3  # opens at nextIndex

    store = Store(db_url)
    with pytest.raises(RotationRefused, match="1 delta"):
        revoke_signer(chain, store, owner, old_signer)
    still = chain.signer_window(old_signer)
    assert still is not None and still.active

    # The node switches keys; the old key's pending delta still anchors (the anchoring key is unchanged).
    second = start_node(deployment, tmp_path, db_url, receipt_signer_key=NEW_SIGNER_KEY, anchor_key=DEV_ANCHORER_KEY)
    try:
        new_ids = _record(second, "b1", "b2")
        with second.client() as client:
            for receipt_id in old_ids + new_ids:
                wait_for_status(client, receipt_id, "verified")
        revoke_signer(chain, store, owner, old_signer)
        closed = chain.signer_window(old_signer)
        assert closed is not None and not closed.active and closed.until_index == 6
        new_ids += _record(second, "b3")
        with second.client() as client:
            wait_for_status(client, new_ids[-1], "verified")
            bundles = [client.get(f"/v1/receipts/{r}/proof").json() for r in old_ids + new_ids]
            export = client.get("/v1/balance/export", params={"customerId": "cust"}).text
            derived = client.get("/v1/balance/derive", params={"customerId": "cust", "verify": "true"}).json()
    finally:
        second.stop()
        store.close()
    return Rotation(bundles, export, derived, old_signer, new_signer)


def forge_with_revoked_key(bundle: dict[str, Any], old_signer: bytes) -> dict[str, Any]:
    """``bundle`` re-signed by the revoked first key: a receipt for a log index past its window."""
    forged = dict(bundle)
    signed = Account.from_key(DEV_ANCHORER_KEY).unsafe_sign_hash(from_hex(forged["fingerprint"]))
    forged["signature"] = "0x" + bytes(signed.signature).hex()
    forged["signer"] = "0x" + old_signer.hex()
    return forged


def test_rotate_and_revoke_the_receipt_signer_and_every_receipt_still_verifies(
    deployment: Deployment, tmp_path: Path
) -> None:
    run = record_rotate_revoke(deployment, tmp_path)
    signers = [b["signer"] for b in run.bundles]
    assert signers == ["0x" + run.old_signer.hex()] * 4 + ["0x" + run.new_signer.hex()] * 3
    assert {b["version"] for b in run.bundles} == {"pacspace.proof.v2"}
    for bundle in run.bundles:
        report = _verify(bundle, tmp_path, deployment.rpc_url)
        assert report["exit"] == 0, [c for c in report["checks"] if not c["ok"]]
    assert run.derived["verification"]["verified"] is True, run.derived["verification"]

    report = _verify(forge_with_revoked_key(run.bundles[-1], run.old_signer), tmp_path, deployment.rpc_url)
    assert report["exit"] == 1
    assert {c["name"] for c in report["checks"] if not c["ok"]} == {"anchorer"}

    # A node will not start with the revoked key, which can never be authorised again.
    with pytest.raises(ChainMismatch, match="not an active receipt signer"):
        start_node(deployment, tmp_path, f"sqlite:///{tmp_path / 'node.db'}")
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    with pytest.raises(OwnerCallRefused, match="PacSpaceAnchorSignerExists") as refused:
        authorise_signer(chain, Account.from_key(DEV_OWNER_KEY), run.old_signer)
    assert refused.value.revert is not None and refused.value.revert.name == "PacSpaceAnchorSignerExists"
    assert refused.value.revert.arguments["signer"].lower() == "0x" + run.old_signer.hex()


def test_rotate_the_anchoring_key(deployment: Deployment, tmp_path: Path) -> None:
    owner = Account.from_key(DEV_OWNER_KEY)
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    new_anchorer = _address(NEW_ANCHOR_KEY)
    with pytest.raises(ChainMismatch, match="not an authorised anchorer"):
        start_node(
            deployment,
            tmp_path,
            db_url,
            signer_key=None,
            anchor_key=NEW_ANCHOR_KEY,
            receipt_signer_key=DEV_ANCHORER_KEY,
        )
    set_anchorer(chain, owner, new_anchorer, True)
    node = start_node(deployment, tmp_path, db_url, anchor_key=NEW_ANCHOR_KEY, receipt_signer_key=DEV_ANCHORER_KEY)
    try:
        set_anchorer(chain, owner, _address(DEV_ANCHORER_KEY), False)  # the old gas wallet is retired
        (receipt_id,) = _record(node, "c1")
        with node.client() as client:
            receipt = wait_for_status(client, receipt_id, "verified")
            bundle = client.get(f"/v1/receipts/{receipt_id}/proof").json()
            health = httpx.get(f"{node.base_url}/healthz").json()
    finally:
        node.stop()
    assert health["anchorer"] == "0x" + new_anchorer.hex()
    assert receipt["signer"] == "0x" + _address(DEV_ANCHORER_KEY).hex()  # receipts are not the anchorer's business
    assert _verify(bundle, tmp_path, deployment.rpc_url)["exit"] == 0


def test_a_node_on_a_v1_contract_keeps_issuing_v1_receipts_that_verify(anvil: Anvil, tmp_path: Path) -> None:
    """Existing deployments: the node reads the contract's version and issues that protocol."""
    deployment = Deployment(anvil.rpc_url, deploy_dev_contract_v1(anvil.rpc_url))
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    assert chain.protocol_version() == 1
    node = start_node(deployment, tmp_path)
    try:
        (receipt_id,) = _record(node, "v1-a")
        with node.client() as client:
            wait_for_status(client, receipt_id, "verified")
            proof = client.get(f"/v1/receipts/{receipt_id}/proof")
            derived = client.get("/v1/balance/derive", params={"customerId": "cust", "verify": "true"}).json()
    finally:
        node.stop()
    bundle = proof.json()
    assert proof.headers["content-type"] == "application/vnd.pacspace.proof.v1+json"
    assert bundle["version"] == "pacspace.proof.v1" and bundle["typedData"]["domain"]["version"] == "1"
    assert _verify(bundle, tmp_path, deployment.rpc_url)["exit"] == 0
    assert derived["verification"]["verified"] is True, derived["verification"]
    # A v1 contract keeps no key history: revoking its signer would break old receipts, so it is refused.
    with pytest.raises(RotationRefused, match="v1 anchor contract keeps no key history"):
        authorise_signer(chain, Account.from_key(DEV_OWNER_KEY), _address(NEW_SIGNER_KEY))


def test_the_signer_and_anchorer_commands(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from node import cli
    from node.cli import main

    # main() would point the root logger at this test's captured stderr, which closes when the test ends.
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(Store(db_url))
    for name, value in {
        "PACSPACE_RPC_URL": deployment.rpc_url,
        "PACSPACE_CHAIN_ID": "31337",
        "PACSPACE_CONTRACT_ADDRESS": deployment.address,
        "PACSPACE_DATABASE_URL": db_url,
        "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
        "PACSPACE_OWNER_KEY": DEV_OWNER_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    new, old = Account.from_key(NEW_SIGNER_KEY).address.lower(), Account.from_key(DEV_ANCHORER_KEY).address.lower()

    assert main(["signer", "show"]) == 0
    assert f"{old}: active from log index 0 (contract v2, nextIndex 0)" in capsys.readouterr().out
    assert main(["signer", "authorise", new]) == 0
    assert f"authorised {new} at log index 0" in capsys.readouterr().out
    assert main(["signer", "authorise", new]) == 1
    assert "PacSpaceAnchorSignerExists" in capsys.readouterr().err
    assert main(["signer", "revoke", old]) == 0
    assert main(["signer", "show", old]) == 0
    assert f"{old}: revoked from log index 0 until 0 (exclusive)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="address must be 20 bytes"):
        main(["signer", "revoke", "0x1234"])

    anchorer = Account.from_key(NEW_ANCHOR_KEY).address.lower()
    assert main(["anchorer", "add", anchorer]) == 0
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    assert chain.is_anchorer(_address(NEW_ANCHOR_KEY))
    assert main(["anchorer", "remove", anchorer]) == 0
    assert not chain.is_anchorer(_address(NEW_ANCHOR_KEY))
    monkeypatch.delenv("PACSPACE_OWNER_KEY")
    with pytest.raises(SystemExit, match="PACSPACE_OWNER_KEY"):
        main(["anchorer", "add", anchorer])


def test_a_running_node_stops_signing_once_its_key_is_revoked(deployment: Deployment, tmp_path: Path) -> None:
    """A process forgotten in a rotation must not issue receipts that could never verify."""
    owner = Account.from_key(DEV_OWNER_KEY)
    chain = AnchorClient(connect(deployment.rpc_url), deployment.address)
    node = start_node(deployment, tmp_path, signer_check_seconds=0.1)
    store = Store(node.db_url)
    try:
        (first,) = _record(node, "before")
        with node.client() as client:
            wait_for_status(client, first, "verified")
        authorise_signer(chain, owner, _address(NEW_SIGNER_KEY))
        revoke_signer(chain, store, owner, _address(DEV_ANCHORER_KEY))
        with node.client() as client:
            deadline = time.monotonic() + 15
            while True:
                response = client.post(
                    "/v1/balance/delta", json={"customerId": "cust", "delta": 1, "reason": "u", "referenceId": "late"}
                )
                if response.status_code != 201 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            health = httpx.get(f"{node.base_url}/healthz").json()
    finally:
        node.stop()
        store.close()
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "receipt_signer_revoked"
    assert health["status"] == "degraded" and health["receiptSigner"] == "revoked"
