"""scripts/verify_receipt.py against real bundles from a real node and a real Anvil.

Each on-chain failure mode gets its own bundle edit; the verifier must name the check. The genuine
bundle, the chain-dependent failures and the customer's derive also run against Hardhat Network
(BOTH_EVMS), the second EVM implementation.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOTH_EVMS, REPO, Deployment, RunningNode, deploy_fresh, wait_for_status
from tests.support import BundleEdit, load_verifier, set_at

VERIFIER = load_verifier()


def _run(
    bundle: dict[str, Any], tmp_path: Path, rpc_url: str, *extra: str, subprocess_run: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the verifier CLI; in-process by default (a subprocess pays ~2 s of imports each time)."""
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    argv = [str(path), "--rpc", rpc_url, "--json", *extra]
    if subprocess_run:
        return subprocess.run(
            [sys.executable, "scripts/verify_receipt.py", *argv], cwd=REPO, capture_output=True, text=True
        )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = VERIFIER.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), "")


def _failed(result: subprocess.CompletedProcess[str]) -> set[str]:
    report = json.loads(result.stdout)
    return {c["name"] for c in report["checks"] if not c["ok"]}


@pytest.fixture
def bundle(node: RunningNode) -> dict[str, Any]:
    with node.client() as client:
        first = client.post(
            "/v1/balance/delta", json={"customerId": "c1", "delta": 500, "reason": "top-up", "referenceId": "v1"}
        ).json()
        second = client.post(
            "/v1/balance/delta",
            json={"customerId": "c1", "delta": -20, "reason": "usage", "referenceId": "v2", "metadata": {"sku": "a"}},
        ).json()
        wait_for_status(client, first["receiptId"], "verified")
        wait_for_status(client, second["receiptId"], "verified")
        result: dict[str, Any] = client.get(f"/v1/receipts/{second['receiptId']}/proof").json()
        return result


@BOTH_EVMS
def test_a_genuine_bundle_passes_every_check(bundle: dict[str, Any], deployment: Deployment, tmp_path: Path) -> None:
    result = _run(bundle, tmp_path, deployment.rpc_url, "--contract", deployment.address, subprocess_run=True)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["checks"]] == [
        "format", "domain", "fingerprint", "metadata", "signature", "leaf", "proof", "range",
        "chain_id", "anchorer", "commitment", "transaction", "block", "confirmations",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        (set_at("typedData.message.delta", "-21"), "fingerprint"),
        (set_at("typedData.message.customerId", "c2"), "fingerprint"),
        (set_at("metadata", '{"sku":"b"}'), "metadata"),
        (set_at("batch.count", 3), "commitment"),
        (set_at("batch.root", "0x" + "ab" * 32), "commitment"),
        (set_at("batch.txHash", "0x" + "cd" * 32), "transaction"),
        (set_at("batch.blockHash", "0x" + "ef" * 32), "block"),
        (set_at("batch.id", 7), "transaction"),
        (set_at("logIndex", 0), "leaf"),
    ],
)
def test_each_edit_is_caught_by_the_named_check(
    bundle: dict[str, Any], deployment: Deployment, tmp_path: Path, edit: BundleEdit, check: str
) -> None:
    edit(bundle)
    result = _run(bundle, tmp_path, deployment.rpc_url)
    assert result.returncode == 1
    assert check in _failed(result), result.stdout


@BOTH_EVMS
def test_unmet_confirmations_and_an_untrusted_contract_fail(
    bundle: dict[str, Any], deployment: Deployment, chain_rpc: str, artifact: Path, tmp_path: Path
) -> None:
    deep = _run(bundle, tmp_path, deployment.rpc_url, "--confirmations", "1000")
    assert deep.returncode == 1 and _failed(deep) == {"confirmations"}
    other = deploy_fresh(chain_rpc, artifact)
    pinned = _run(bundle, tmp_path, deployment.rpc_url, "--contract", other.address)
    assert pinned.returncode == 1 and "domain" in _failed(pinned)


def _main(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = VERIFIER.main(list(argv))
    return code, out.getvalue()


@BOTH_EVMS
def test_verifier_derive_and_checkpoint_agree_with_the_node(
    node: RunningNode, deployment: Deployment, tmp_path: Path
) -> None:
    """The customer's own path: export, derive offline against the chain, check the invoice checkpoint."""
    amounts = [1000, -250, 2**200, -(2**199), 7]
    with node.client() as client:
        receipts = [
            client.post(
                "/v1/balance/delta", json={"customerId": "aud", "delta": a, "reason": "usage", "referenceId": f"a{i}"}
            ).json()
            for i, a in enumerate(amounts)
        ]
        for receipt in receipts:
            wait_for_status(client, receipt["receiptId"], "verified")
        derived = client.get("/v1/balance/derive", params={"customerId": "aud"}).json()
        export = tmp_path / "aud.jsonl"
        export.write_text(client.get("/v1/balance/export", params={"customerId": "aud"}).text)
        checkpoint = client.post("/v1/checkpoints", json={"customerId": "aud", "fromIndex": 2, "toIndex": 4}).json()

    code, out = _main("derive", str(export), "--rpc", deployment.rpc_url, "--json", "--quiet")
    report = json.loads(out)
    assert code == 0 and report["ok"], out
    assert int(report["balance"]) == derived["balance"] == sum(amounts)
    assert report["count"] == 5 and report["headFingerprint"] == derived["headFingerprint"]

    code, out = _main("checkpoint", checkpoint["proofToken"], "--export", str(export), "--rpc", deployment.rpc_url)
    assert code == 0, out
    assert "not countersigned" in out

    lines = export.read_text().splitlines()
    gap = tmp_path / "gap.jsonl"
    gap.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    code, out = _main("derive", str(gap), "--rpc", deployment.rpc_url, "--json", "--quiet")
    failures = json.loads(out)["failures"]
    assert code == 1 and any(f["customerIndex"] in (2, 3) for f in failures), failures
