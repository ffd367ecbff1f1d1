"""The dashboard's "verify against the chain" (node.ledger.verification) is the auditor's verifier: on a
genuine bundle and one edit per failure mode, against a real Anvil and contract, it fails exactly
the checks it always failed, with the details ``pacspace-verify --contract … --json`` prints; and
the dashboard's page lists those checks, verdicts and details as the verifier gives them."""

from __future__ import annotations

import contextlib
import copy
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.chain.client import account_from_key
from node.dev.chain import DEV_OWNER_KEY, Anvil, free_port
from node.ledger.verification import CHECK_NAMES, NODE_RPC, verify_bundle
from tests.conftest import Deployment, RunningNode, deploy_fresh, start_node, wait_for_status
from tests.integration.test_dashboard import sign_in
from tests.support import BundleEdit, load_verifier, set_at, sql

VERIFIER = load_verifier()


@pytest.fixture(scope="module")
def deployed(anvil: Anvil, artifact: Path) -> Deployment:
    return deploy_fresh(anvil.rpc_url, artifact)


@dataclass
class Served:
    node: RunningNode
    receipts: dict[str, str]  # "plain" / "rich" -> receiptId
    bundles: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def served(deployed: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real node with a delta without metadata and one with, both verified, and their bundles.

    Both are recorded in one bulk request, so they become pending together and share one batch of
    two (log indexes 0 and 1): what the ``count`` and ``start index`` edits fail depends on it.
    """
    node = start_node(deployed, tmp_path_factory.mktemp("verification"))
    try:
        with node.client() as client:
            reply = client.post(
                "/v1/balance/deltas",
                json={
                    "deltas": [
                        {"customerId": "v", "delta": 5, "reason": "usage", "referenceId": "nv1"},
                        {
                            "customerId": "v",
                            "delta": -(2**200),
                            "reason": "usage",
                            "referenceId": "nv2",
                            "metadata": {"sku": "a", "n": 3},
                        },
                    ]
                },
            ).json()
            plain, rich = (result["receipt"] for result in reply["results"])
            for receipt in (plain, rich):
                wait_for_status(client, receipt["receiptId"], "verified")
            receipts = {"plain": plain["receiptId"], "rich": rich["receiptId"]}
            batches = {client.get(f"/v1/receipts/{rid}").json()["batchId"] for rid in receipts.values()}
            assert len(batches) == 1, f"the two deltas were anchored in batches {batches}, not one"
            yield Served(
                node,
                receipts,
                {name: client.get(f"/v1/receipts/{rid}/proof").json() for name, rid in receipts.items()},
            )
    finally:
        node.stop()


@pytest.fixture(scope="module")
def bundles(served: Served) -> dict[str, dict[str, Any]]:
    return served.bundles


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


# The checks each edit fails, as the dashboard has always reported them (its own copy of the checks
# agreed with the verifier script on every one of these before it was replaced by the verifier).
_ONCHAIN = ("chain_id", "anchorer", "commitment", "transaction", "block", "confirmations")
FAILS: dict[str, tuple[str, ...]] = {
    "genuine": (),
    "amount": ("fingerprint",),
    "customer": ("fingerprint",),
    "metadata text": ("metadata",),
    "metadata withheld": ("metadata",),  # the rich bundle's; the plain one has none to withhold
    "metadata not canonical": ("metadata",),
    "fingerprint": ("fingerprint", "signature", "leaf", "proof", "commitment"),
    "signature v": ("signature",),
    "signer": ("signature", "anchorer"),
    "leaf": ("leaf",),
    "proof longer": ("proof", "commitment"),
    "proof not a list": ("format", "proof", "commitment"),
    "root": ("proof", "commitment", "transaction"),
    "count": ("commitment", "transaction"),
    "start index": ("commitment", "transaction"),  # and range for the plain bundle, at log index 0
    "batch id": ("transaction",),
    "transaction": ("transaction",),
    "block hash": ("transaction", "block"),
    "block number": ("transaction", "block", "confirmations"),
    "log index": ("leaf", "proof", "range", "commitment"),
    "chain id": ("domain", "fingerprint", "chain_id"),
    "contract": ("domain", "fingerprint"),
    "domain name": ("domain", "fingerprint"),
    "primary type": ("domain", "fingerprint"),
    "version": ("format", "domain", "fingerprint", "anchorer"),  # unknown: judged by v1 rules, which a v2 bundle fails
    "no leaf": ("format", "leaf"),
    "no batch": ("format", "proof", "range", "commitment", "transaction", "block", "confirmations"),
    "uppercase hex": ("format", "fingerprint", "signature", "leaf", "proof", "commitment"),
}
FAILS_PLAIN = {"metadata withheld": (), "start index": ("range", "commitment", "transaction")}


def _cli(bundle: dict[str, Any], tmp_path: Path, rpc_url: str, contract: str, required: int) -> list[tuple[Any, ...]]:
    """What ``pacspace-verify BUNDLE --rpc … --contract … --confirmations … --json`` reports."""
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    out = io.StringIO()
    argv = [str(path), "--rpc", rpc_url, "--contract", contract, "--confirmations", str(required), "--json"]
    with contextlib.redirect_stdout(out):
        VERIFIER.main(argv)
    return [(c["name"], c["ok"], c["detail"]) for c in json.loads(out.getvalue())["checks"]]


def _dashboard(bundle: dict[str, Any], deployment: Deployment, rpc_url: str, required: int) -> list[tuple[Any, ...]]:
    checks = verify_bundle(bundle, rpc_url=rpc_url, contract=deployment.address, required_confirmations=required)
    return [(r.name, r.ok, r.detail) for r in checks]


@pytest.mark.parametrize("which", ["plain", "rich"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_the_dashboard_fails_the_checks_it_always_failed_as_the_verifier_does(
    bundles: dict[str, dict[str, Any]], deployed: Deployment, tmp_path: Path, which: str, edit: str
) -> None:
    bundle = copy.deepcopy(bundles[which])
    EDITS[edit](bundle)
    ours = _dashboard(bundle, deployed, deployed.rpc_url, required=1)
    assert [name for name, _ok, _detail in ours] == list(CHECK_NAMES)
    wanted = FAILS_PLAIN.get(edit, FAILS[edit]) if which == "plain" else FAILS[edit]
    assert tuple(name for name, ok, _detail in ours if not ok) == wanted, ours
    assert ours == _cli(bundle, tmp_path, deployed.rpc_url, deployed.address, required=1)


def test_confirmations_and_an_unreachable_chain(bundles: dict[str, dict[str, Any]], deployed: Deployment) -> None:
    deep = _dashboard(bundles["plain"], deployed, deployed.rpc_url, required=10**6)
    assert [name for name, ok, _ in deep if not ok] == ["confirmations"]
    port = free_port()
    down = _dashboard(bundles["plain"], deployed, f"http://127.0.0.1:{port}", required=1)
    assert tuple(name for name, ok, _ in down if not ok) == _ONCHAIN
    details = [detail for name, _ok, detail in down if name in _ONCHAIN]
    assert all("unreachable" in detail for detail in details), details
    # The page names the node's RPC, never its URL (which may hold the operator's API key).
    assert NODE_RPC in details[0] and not any(str(port) in detail for detail in details)


_CHECK_ITEM = re.compile(
    r'<strong>([a-z_]+)</strong><span class="visually-hidden"> (passed|failed)</span>.*?'
    r'<div class="check-detail">(.*?)</div>',
    re.S,
)


def _page_checks(browser: httpx.Client, receipt_id: str) -> list[tuple[Any, ...]]:
    page = browser.get(f"/dashboard/receipts/{receipt_id}/verify")
    assert page.status_code == 200
    found = [(name, mark == "passed", html.unescape(detail)) for name, mark, detail in _CHECK_ITEM.findall(page.text)]
    failed = sum(not ok for _name, ok, _detail in found)
    verdict = f"Verified: all {len(found)} checks passed." if not failed else f"NOT VERIFIED: {failed} of {len(found)}"
    assert verdict in page.text
    return found


def test_the_dashboard_page_shows_the_verifiers_checks(served: Served, deployed: Deployment, tmp_path: Path) -> None:
    rid = served.receipts["rich"]
    with httpx.Client(base_url=served.node.base_url, headers={"X-Forwarded-For": "10.8.0.1"}, timeout=60) as browser:
        sign_in(browser, served.node.token)
        for tampered in (False, True):
            if tampered:  # the record is changed under the node: the bundle it serves no longer hashes
                sql(served.node.db_url, "UPDATE deltas SET reason = 'rewritten' WHERE receipt_id = :r", {"r": rid})
            shown = _page_checks(browser, rid)
            served_bundle = browser.get(f"/dashboard/receipts/{rid}/bundle.json").json()
            assert served_bundle["typedData"]["message"]["reason"] == ("rewritten" if tampered else "usage")
            assert shown == _cli(served_bundle, tmp_path, deployed.rpc_url, deployed.address, required=1)
            assert [name for name, ok, _ in shown if not ok] == (["fingerprint"] if tampered else [])
