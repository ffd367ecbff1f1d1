"""Generate the protocol v1 test vectors (tests/vectors/v1/) from a real node and a real Anvil.

Run once, by hand, not by CI (vectors are never edited once committed, only added)::

    export FOUNDRY_SOLC="$PWD/scripts/solc" ETH_HASH_BACKEND=pysha3
    .venv/bin/python -m tests.vectors.tools.generate_v1 [--check-only | --force]

Provenance: it starts Anvil (chain id 31337) and deploys the anchor contract exactly as the tests
do (node/devchain.py: owner Anvil account 0, anchorer account 1), starts a real node in this
process (tests/conftest.py's ``start_node``), records deltas for three customers (with and without
metadata, a correction through ``correctsReceiptId``, the int256 extremes), waits until they are
verified, and fetches proof bundles, exports, checkpoint proofTokens (one countersigned with
Anvil account 2, one not) and two comparisons' evidence packs. It stops the node (so the chain
no longer moves), then, for every case, writes the input, runs the verifier on it through a
``RecordingProxy`` in front of Anvil, keeps the transcript, optionally edits one recorded answer
(the description says so: how a chain that says otherwise is simulated), replays it through a
``ReplayServer`` and checks that the verifier gives the case's declared exit status and failed
checks. Bundle cases also run through the node's own checks (node.verification) so the transcript
answers them too. Nothing is written unless every case gives what it declares. The last cases
revoke the anchorer on chain (setAnchorer(anchorer, false)) and record what a verifier sees then.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account import Account

from node.chain.client import AnchorClient, account_from_key, connect
from node.devchain import (
    ARTIFACT,
    DEV_ANCHORER_KEY,
    DEV_OWNER_KEY,
    deploy_dev_contract,
    find_anvil,
    free_port,
    start_anvil,
)
from node.verification import verify_bundle
from tests.conftest import Deployment, start_node, wait_for_status
from tests.vectors.replay import RecordingProxy, ReplayServer

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "tests" / "vectors" / "v1"
COUNTERSIGNER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil account 2
OUTSIDER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"  # Anvil account 3
ZERO32 = "0x" + "00" * 32

sys.path.insert(0, str(REPO / "scripts"))
from pacspace_verify import protocol as vp  # noqa: E402
from pacspace_verify.cli import main as verifier_main  # noqa: E402
from pacspace_verify.proof_token import Token, checkpoint_digest, decode_token  # noqa: E402

Json = Any
Edit = Callable[[list[dict[str, Any]]], None]


@dataclass
class Case:
    mode: str
    name: str
    description: str
    input: Json = None
    input_text: str | None = None
    export: list[Json] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    exit: int = 0
    failed: list[str] = field(default_factory=list)
    rpc_edit: Edit | None = None
    rpc_unreachable: bool = False


# --- running the verifier ------------------------------------------------------------------


def write_inputs(case: Case, directory: Path) -> list[str]:
    """The verifier's argv (without --rpc) for a case, its files written into ``directory``."""
    path = directory / ("input.jsonl" if case.mode in ("derive",) else "input.json")
    if case.input_text is not None:
        path.write_text(case.input_text, encoding="utf-8")
    elif case.mode == "derive":
        path.write_text("".join(json.dumps(line) + "\n" for line in case.input), encoding="utf-8")
    elif case.mode in ("bundle", "evidence"):
        path.write_text(json.dumps(case.input), encoding="utf-8")
    options = ["--json", "--confirmations", str(case.options.get("confirmations", 1))]
    if "contract" in case.options:
        options += ["--contract", case.options["contract"]]
    if case.mode == "bundle":
        return [str(path), *options]
    if case.mode == "evidence":
        return ["evidence", str(path), *options]
    if case.mode == "derive":
        return ["derive", str(path), "--quiet", *options]
    export = directory / "export.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in case.export or []), encoding="utf-8")
    token = case.input_text if case.input_text is not None else case.input
    return ["checkpoint", token, "--export", str(export), "--quiet", *options]


def failed_checks(mode: str, report: dict[str, Any]) -> list[str]:
    if mode == "derive":
        return sorted({f["check"] for f in report["failures"]})
    return sorted({c["name"] for c in report["checks"] if not c["ok"]})


def run_verifier(argv: list[str], rpc: str) -> tuple[int, list[str] | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = verifier_main([*argv, "--rpc", rpc])
    if code == 2:
        return code, None, err.getvalue()
    mode = argv[0] if argv[0] in ("derive", "checkpoint", "evidence") else "bundle"
    return code, failed_checks(mode, json.loads(out.getvalue())), err.getvalue()


def node_checks(bundle: Json, rpc: str, contract: str, confirmations: int) -> list[str]:
    chain = AnchorClient(connect(rpc), contract, account_from_key(DEV_ANCHORER_KEY))
    return sorted(r.name for r in verify_bundle(bundle, chain, required_confirmations=confirmations) if not r.ok)


def build_vector(case: Case, anvil_url: str, provenance: str) -> tuple[dict[str, Any], list[str]]:
    """Record, edit, replay, compare; returns the vector and its problems (empty: as declared)."""
    problems: list[str] = []
    transcript: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        argv = write_inputs(case, Path(tmp))
        if not case.rpc_unreachable:
            proxy = RecordingProxy(anvil_url)
            with proxy.serve() as url:
                run_verifier(argv, url)
                if case.mode == "bundle" and case.exit != 2 and case.input is not None:
                    contract = case.options.get("contract") or case.input["contract"]
                    node_checks(copy.deepcopy(case.input), url, contract, case.options.get("confirmations", 1))
            if proxy.conflicts:
                problems.append(f"the chain answered differently to the same request: {proxy.conflicts}")
            transcript = proxy.transcript()
            if case.rpc_edit is not None:
                case.rpc_edit(transcript)
            replay = ReplayServer(transcript)
            with replay.serve() as url:
                code, failed, err = run_verifier(argv, url)
                if case.mode == "bundle" and case.exit != 2 and case.input is not None:
                    contract = case.options.get("contract") or case.input["contract"]
                    ours = node_checks(copy.deepcopy(case.input), url, contract, case.options.get("confirmations", 1))
                    if ours != sorted(case.failed):
                        print(f"note: {case.mode}/{case.name}: the node's own checks fail {ours}")
        else:
            code, failed, err = run_verifier(argv, f"http://127.0.0.1:{free_port()}")
    if code != case.exit or (failed or []) != sorted(case.failed):
        problems.append(
            f"declared exit {case.exit} failed {sorted(case.failed)}, got exit {code} failed {failed} {err}"
        )
    vector: dict[str, Any] = {"description": case.description, "protocol": 1, "mode": case.mode}
    if case.input_text is not None:
        vector["inputText"] = case.input_text
    else:
        vector["input"] = case.input
    if case.mode == "checkpoint":
        vector["export"] = case.export or []
    vector["options"] = {"confirmations": case.options.get("confirmations", 1)}
    if "contract" in case.options:
        vector["options"]["contract"] = case.options["contract"]
    if case.rpc_unreachable:
        vector["rpcUnreachable"] = True
    else:
        vector["rpc"] = transcript
    vector["want"] = {"exit": case.exit, "failed": sorted(case.failed)}
    vector["provenance"] = provenance
    return vector, problems


# --- edits -----------------------------------------------------------------------------------


def edited(value: Json, *edits: Callable[[Json], None]) -> Json:
    out = copy.deepcopy(value)
    for edit in edits:
        edit(out)
    return out


def at(path: str, value: Any) -> Callable[[Json], None]:
    def edit(obj: Json) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value

    return edit


def flip(hexstr: str) -> str:
    return hexstr[:-1] + ("0" if hexstr[-1] != "0" else "1")


def rpc_result(method: str, change: Callable[[Any], Any], selector: str | None = None) -> Edit:
    """Edit the recorded answer(s) to ``method`` (an eth_call: only the call whose data starts so)."""

    def edit(transcript: list[dict[str, Any]]) -> None:
        hits = 0
        for entry in transcript:
            if entry["method"] != method or "result" not in entry:
                continue
            if selector is not None and not entry["params"][0]["data"].startswith(selector):
                continue
            entry["result"] = change(entry["result"])
            hits += 1
        assert hits, f"no recorded {method} {selector or ''} to edit"

    return edit


def selector(signature: str) -> str:
    return "0x" + vp.k256(signature.encode()).hex()[:8]


def other_commitment(transcript: list[dict[str, Any]]) -> None:
    """The contract stores another commitment at the batch's start index, so verify is false."""
    rpc_result("eth_call", flip, selector("batchCommitment(uint64)"))(transcript)
    verify = selector("verify(uint64,uint32,bytes32,uint64,bytes32,bytes32[])")
    rpc_result("eth_call", lambda _: "0x" + "00" * 32, verify)(transcript)


def token_hex(t: Token) -> str:
    values = [
        t.tenant,
        t.customer_id,
        t.from_index,
        t.to_index,
        t.count,
        t.opening_balance,
        t.net,
        t.closing_balance,
        t.range_root,
        t.head_fingerprint,
        t.created_at,
        t.chain_id,
        "0x" + t.contract.hex(),
        t.node_signature,
        t.countersignature,
    ]
    return "0x01" + encode(list(vp.TOKEN_TYPES), values).hex()


def resign(t: Token, key: str = DEV_ANCHORER_KEY) -> Token:
    signed = Account.unsafe_sign_hash(checkpoint_digest(t), key)
    return Token(**{**t.__dict__, "node_signature": bytes(signed.signature)})


def token_edit(token: str, key: str = DEV_ANCHORER_KEY, **changes: Any) -> str:
    t = decode_token(bytes.fromhex(token[2:]))
    return token_hex(resign(Token(**{**t.__dict__, **changes}), key))


# --- the node's data ---------------------------------------------------------------------------


@dataclass
class Recorded:
    contract: str
    bundles: dict[str, Json]
    exports: dict[str, list[Json]]
    tokens: dict[str, str]
    packs: dict[str, Json]
    deploy_tx: str


def record(rpc: str, contract: str, work: Path) -> Recorded:
    node = start_node(Deployment(rpc, contract), work)
    try:
        with node.client() as client:

            def post(customer: str, delta: int, ref: str, reason: str, **extra: Any) -> dict[str, Any]:
                body = {"customerId": customer, "delta": delta, "reason": reason, "referenceId": ref, **extra}
                response = client.post("/v1/balance/delta", json=body)
                assert response.status_code == 201, response.text
                return dict(response.json())

            receipts: dict[str, dict[str, Any]] = {}
            receipts["a0"] = post("cust_a", 1000, "ref_a0", "top-up")
            receipts["a1"] = post("cust_a", -250, "ref_a1", "usage", metadata={"plan": "pro", "units": 3})
            receipts["a2"] = post(
                "cust_a", 250, "ref_a2", "credit: usage billed twice", correctsReceiptId=receipts["a1"]["receiptId"]
            )
            receipts["a3"] = post(
                "cust_a",
                -100,
                "ref_a3",
                "usage",
                metadata={"note": 'café ☕ "quoted"\n', "n": -5, "tags": ["x", {"b": True, "a": None}]},
            )
            receipts["x0"] = post("cust_x", 2**255 - 1, "ref_x0", "int256 max")
            receipts["x1"] = post("cust_x", -(2**255), "ref_x1", "int256 min")
            receipts["b0"] = post("cust_b", 5, "ref_b0", "usage")
            receipts["b1"] = post("cust_b", 7, "ref_b1", "usage")
            for r in receipts.values():
                wait_for_status(client, r["receiptId"], "verified")
            bundles = {name: client.get(f"/v1/receipts/{r['receiptId']}/proof").json() for name, r in receipts.items()}
            exports = {
                c: [
                    json.loads(line)
                    for line in client.get("/v1/balance/export", params={"customerId": c}).text.splitlines()
                    if line
                ]
                for c in ("cust_a", "cust_x", "cust_b")
            }
            tokens: dict[str, str] = {}
            plain = client.post("/v1/checkpoints", json={"customerId": "cust_a", "fromIndex": 0, "toIndex": 1})
            assert plain.status_code == 201, plain.text
            tokens["plain"] = plain.json()["proofToken"]
            mutual = client.post("/v1/checkpoints", json={"customerId": "cust_a", "fromIndex": 2, "toIndex": 3}).json()
            signature = Account.sign_typed_data(COUNTERSIGNER_KEY, full_message=mutual["typedData"]).signature
            signed = client.post(
                f"/v1/checkpoints/{mutual['checkpointId']}/countersign",
                json={"signature": "0x" + bytes(signature).hex()},
            )
            assert signed.status_code == 200, signed.text
            tokens["countersigned"] = signed.json()["proofToken"]
            extremes = client.post("/v1/checkpoints", json={"customerId": "cust_x", "fromIndex": 0, "toIndex": 1})
            tokens["extremes"] = extremes.json()["proofToken"]
            packs: dict[str, Json] = {}
            disputed = client.post(
                "/v1/balance/compare",
                json={
                    "customerId": "cust_a",
                    "theirDeltas": [
                        {"referenceId": "ref_a0", "delta": 1000},
                        {"referenceId": "ref_a1", "delta": -200},
                        {"referenceId": "ref_a2", "delta": 250},
                        {"referenceId": "ref_x9", "delta": 42},
                    ],
                },
            ).json()
            assert disputed["resolution"] == "needs_evidence", disputed
            packs["needs_evidence"] = client.get(f"/v1/comparisons/{disputed['comparisonId']}/evidence").json()
            match = client.post(
                "/v1/balance/compare",
                json={
                    "customerId": "cust_b",
                    "theirDeltas": [{"referenceId": "ref_b0", "delta": 5}, {"referenceId": "ref_b1", "delta": 7}],
                },
            ).json()
            assert match["resolution"] == "match", match
            packs["match"] = client.get(f"/v1/comparisons/{match['comparisonId']}/evidence").json()
    finally:
        node.stop()
    w3 = connect(rpc)
    deploy_tx = w3.eth.get_block(1)["transactions"][0]
    return Recorded(contract, bundles, exports, tokens, packs, "0x" + bytes(deploy_tx).hex())


# --- the cases ---------------------------------------------------------------------------------

BUNDLE_CHECKS = ["format", "domain", "fingerprint", "metadata", "signature", "leaf", "proof", "range"]
BUNDLE_CHECKS += ["chain_id", "anchorer", "commitment", "transaction", "block", "confirmations"]
CHECKPOINT_CHECKS = ["token", "signature", "anchorer", "countersignature", "export", "range"]
CHECKPOINT_CHECKS += ["opening", "net", "closing", "root", "head"]


def bundle_cases(r: Recorded) -> list[Case]:
    b = r.bundles["a1"]  # with metadata, in a batch with others
    other = "0x" + "12" * 20
    bundle_id = "0x" + "00" * 31 + "07"
    return [
        Case(
            "bundle",
            "valid-no-metadata",
            "a genuine bundle of a delta without metadata (metadata null)",
            r.bundles["a0"],
        ),
        Case("bundle", "valid-metadata", "a genuine bundle of a delta with metadata {plan, units}", b),
        Case(
            "bundle",
            "valid-correction",
            "a genuine bundle of a correction: message.corrects names cust_a's delta 1",
            r.bundles["a2"],
        ),
        Case(
            "bundle",
            "valid-unicode-metadata",
            "a genuine bundle whose canonical metadata has non-ASCII text, escapes, nesting and null",
            r.bundles["a3"],
        ),
        Case("bundle", "valid-int256-max", "a genuine bundle of delta 2^255 - 1", r.bundles["x0"]),
        Case("bundle", "valid-int256-min", "a genuine bundle of delta -2^255", r.bundles["x1"]),
        Case(
            "bundle",
            "valid-pinned-contract",
            "a genuine bundle checked with the contract pinned (--contract)",
            b,
            options={"contract": r.contract},
        ),
        Case(
            "bundle",
            "valid-confirmations",
            "a genuine bundle with as many confirmations required as the recorded head gives",
            b,
            options={"confirmations": 0},
        ),
        Case(
            "bundle",
            "invalid-format",
            "version is pacspace.proof.v0: only the format check fails",
            edited(b, at("version", "pacspace.proof.v0")),
            exit=1,
            failed=["format"],
        ),
        Case(
            "bundle",
            "invalid-format-uppercase-hex",
            "leaf in uppercase hex: malformed (format), so leaf cannot be checked either",
            edited(b, at("leaf", b["leaf"].upper().replace("0X", "0x"))),
            exit=1,
            failed=["format", "leaf"],
        ),
        Case(
            "bundle",
            "invalid-domain",
            "the contract is pinned to another address: the domain is not the trusted contract's, and the on-chain "
            "checks query a contract that is not there",
            b,
            options={"contract": other},
            exit=1,
            failed=["domain", "anchorer", "commitment", "transaction"],
        ),
        Case(
            "bundle",
            "invalid-domain-name",
            "typedData.domain.name is NotPacSpace: domain fails, and typedData's digest is no longer the fingerprint",
            edited(b, at("typedData.domain.name", "NotPacSpace")),
            exit=1,
            failed=["domain", "fingerprint"],
        ),
        Case(
            "bundle",
            "invalid-fingerprint",
            "message.delta changed from -250 to -251: the digest is not the fingerprint",
            edited(b, at("typedData.message.delta", "-251")),
            exit=1,
            failed=["fingerprint"],
        ),
        Case(
            "bundle",
            "invalid-metadata",
            "metadata text changed (units 4): its keccak256 is not message.metadataHash",
            edited(b, at("metadata", '{"plan":"pro","units":4}')),
            exit=1,
            failed=["metadata"],
        ),
        Case(
            "bundle",
            "invalid-metadata-withheld",
            "metadata null although message.metadataHash is not zero: the bundle withholds signed metadata",
            edited(b, at("metadata", None)),
            exit=1,
            failed=["metadata"],
        ),
        Case(
            "bundle",
            "invalid-signature",
            "signature v byte changed 1b<->1c: it recovers to another address than signer",
            edited(b, at("signature", b["signature"][:-2] + ("1c" if b["signature"].endswith("1b") else "1b"))),
            exit=1,
            failed=["signature"],
        ),
        Case(
            "bundle",
            "invalid-leaf",
            "the leaf's last hex digit changed",
            edited(b, at("leaf", flip(b["leaf"]))),
            exit=1,
            failed=["leaf"],
        ),
        Case(
            "bundle",
            "invalid-proof",
            "an extra sibling appended to the proof: it no longer folds to the root, and the contract's verify is "
            "false",
            edited(b, at("proof", [*b["proof"], "0x" + "11" * 32])),
            exit=1,
            failed=["proof", "commitment"],
        ),
        Case(
            "bundle",
            "invalid-range",
            "logIndex moved past the batch: out of range, and leaf and proof no longer match",
            edited(b, at("logIndex", b["batch"]["startIndex"] + b["batch"]["count"])),
            exit=1,
            failed=["range", "leaf", "proof", "commitment"],
        ),
        Case(
            "bundle",
            "invalid-chain_id",
            "the RPC's eth_chainId answer edited to 0x1 (the RPC is on another chain)",
            b,
            rpc_edit=rpc_result("eth_chainId", lambda _: "0x1"),
            exit=1,
            failed=["chain_id"],
        ),
        Case(
            "bundle",
            "invalid-commitment",
            "the recorded batchCommitment answer edited (the contract stores another commitment for this start "
            "index) and verify answers false",
            b,
            rpc_edit=other_commitment,
            exit=1,
            failed=["commitment"],
        ),
        Case(
            "bundle",
            "invalid-commitment-count",
            "batch.count changed: the commitment of (root, count) is not on chain and no BatchAnchored has that count",
            edited(b, at("batch.count", b["batch"]["count"] + 1)),
            exit=1,
            failed=["commitment", "transaction"],
        ),
        Case(
            "bundle",
            "invalid-transaction",
            "batch.txHash is the contract's deployment transaction: it emitted no BatchAnchored and was not sent to "
            "the contract",
            edited(b, at("batch.txHash", r.deploy_tx)),
            exit=1,
            failed=["transaction"],
        ),
        Case(
            "bundle",
            "invalid-transaction-unknown",
            "batch.txHash is a hash the chain does not know",
            edited(b, at("batch.txHash", "0x" + "cd" * 32)),
            exit=1,
            failed=["transaction"],
        ),
        Case(
            "bundle",
            "invalid-transaction-batch-id",
            "batch.id changed: the transaction's BatchAnchored has another id",
            edited(b, at("batch.id", b["batch"]["id"] + 7)),
            exit=1,
            failed=["transaction"],
        ),
        Case(
            "bundle",
            "invalid-block",
            "the recorded eth_getBlockByNumber answer's hash edited: the block was reorganised away",
            b,
            rpc_edit=rpc_result("eth_getBlockByNumber", lambda blk: {**blk, "hash": flip(blk["hash"])}),
            exit=1,
            failed=["block"],
        ),
        Case(
            "bundle",
            "invalid-block-hash",
            "batch.blockHash changed: not the canonical block, nor the transaction's",
            edited(b, at("batch.blockHash", flip(b["batch"]["blockHash"]))),
            exit=1,
            failed=["block", "transaction"],
        ),
        Case(
            "bundle",
            "invalid-confirmations",
            "1000 confirmations required, the recorded head gives fewer",
            b,
            options={"confirmations": 1000},
            exit=1,
            failed=["confirmations"],
        ),
        Case("bundle", "unusable-not-json", "the input is not JSON", input_text="{not json", exit=2),
        Case("bundle", "unusable-not-an-object", "the input is JSON but an array, not a bundle", [b], exit=2),
        Case(
            "bundle",
            "unusable-no-bundle-members",
            "the input is a JSON object with none of a bundle's members",
            {"receipt": bundle_id},
            exit=2,
        ),
        Case(
            "bundle",
            "unusable-rpc-unreachable",
            "a genuine bundle, but nothing answers at the RPC URL",
            b,
            rpc_unreachable=True,
            exit=2,
        ),
        Case(
            "bundle",
            "invalid-format-duplicate-key",
            "the bundle text repeats the key logIndex: ambiguous",
            input_text=json.dumps(b)[:-1] + ', "logIndex": ' + str(b["logIndex"]) + "}",
            exit=1,
            failed=["format"],
        ),
    ]


def anchorer_revoked_case(r: Recorded) -> Case:
    return Case(
        "bundle",
        "invalid-anchorer",
        "the contract owner revoked the signer (setAnchorer(signer, false)) after anchoring: isAnchorer is false",
        r.bundles["a1"],
        exit=1,
        failed=["anchorer"],
    )


def derive_cases(r: Recorded) -> list[Case]:
    a = r.exports["cust_a"]
    assert [int(line["typedData"]["message"]["customerIndex"]) for line in a] == [0, 1, 2, 3]
    bline = r.exports["cust_b"][1]
    edited_prev = edited(a[2], at("typedData.message.prevFingerprint", a[0]["fingerprint"]))
    return [
        Case("derive", "valid", "cust_a's export: 4 deltas, metadata, a correction", a),
        Case(
            "derive",
            "valid-int256-extremes",
            "cust_x's export: 2^255 - 1 then -2^255 (balance -1)",
            r.exports["cust_x"],
        ),
        Case(
            "derive",
            "valid-pinned-contract",
            "cust_a's export with the contract pinned",
            a,
            options={"contract": r.contract},
        ),
        Case(
            "derive",
            "invalid-gap",
            "cust_a's export without its first line: it does not start at customerIndex 0",
            a[1:],
            exit=1,
            failed=["gap"],
        ),
        Case(
            "derive",
            "invalid-order",
            "cust_a's line customerIndex 1 repeated",
            [a[0], a[1], a[1], a[2], a[3]],
            exit=1,
            failed=["order"],
        ),
        Case(
            "derive",
            "invalid-link",
            "line 3's prevFingerprint edited to line 1's fingerprint (so the fingerprint fails too)",
            [a[0], a[1], edited_prev, a[3]],
            exit=1,
            failed=["link", "fingerprint"],
        ),
        Case(
            "derive",
            "invalid-corrects",
            "line 4's corrects edited to a fingerprint not in the export (so the fingerprint fails too)",
            [a[0], a[1], a[2], edited(a[3], at("typedData.message.corrects", "0x" + "ab" * 32))],
            exit=1,
            failed=["corrects", "fingerprint"],
        ),
        Case(
            "derive",
            "invalid-customer",
            "cust_a's line 2 replaced by cust_b's customerIndex 1: another customer, whose prevFingerprint does not "
            "link",
            [a[0], bline],
            exit=1,
            failed=["customer", "link"],
        ),
        Case(
            "derive",
            "invalid-deployment",
            "line 2's chainId and domain.chainId set to 1: another deployment (its digest changes, and the RPC is "
            "not on chain 1)",
            [a[0], edited(a[1], at("chainId", 1), at("typedData.domain.chainId", 1)), a[2], a[3]],
            exit=1,
            failed=["deployment", "fingerprint", "chain_id"],
        ),
        Case(
            "derive",
            "invalid-bundle",
            "line 2's metadata text changed: a bundle check fails inside the export",
            [a[0], edited(a[1], at("metadata", '{"plan":"pro","units":4}')), a[2], a[3]],
            exit=1,
            failed=["metadata"],
        ),
        Case(
            "derive",
            "invalid-unreadable-line",
            "line 2 is not JSON (format); the next line, customerIndex 2, then reports the gap and corrects a delta "
            "the export lacks",
            input_text=json.dumps(a[0]) + "\n{not json\n" + json.dumps(a[2]) + "\n",
            exit=1,
            failed=["format", "gap", "corrects"],
        ),
        Case("derive", "unusable-empty", "an empty export", [], exit=2),
        Case(
            "derive",
            "unusable-not-json-lines",
            "a pretty-printed bundle, not JSON Lines",
            input_text=json.dumps(a[0], indent=2) + "\n",
            exit=2,
        ),
        Case(
            "derive",
            "unusable-no-bundle-members",
            "the first line is a JSON object with none of a bundle's members",
            [{"hello": "world"}],
            exit=2,
        ),
        Case(
            "derive",
            "unusable-rpc-unreachable",
            "cust_a's export, but nothing answers at the RPC URL",
            a,
            rpc_unreachable=True,
            exit=2,
        ),
    ]


def checkpoint_cases(r: Recorded) -> list[Case]:
    a = r.exports["cust_a"]
    plain, mutual = r.tokens["plain"], r.tokens["countersigned"]
    t = decode_token(bytes.fromhex(plain[2:]))
    bad_sig = token_hex(Token(**{**t.__dict__, "node_signature": t.node_signature[:64] + bytes([29])}))
    m = decode_token(bytes.fromhex(mutual[2:]))
    bad_counter = token_hex(Token(**{**m.__dict__, "countersignature": m.countersignature[:64] + bytes([29])}))
    return [
        Case(
            "checkpoint",
            "valid",
            "cust_a deltas 0..1, not countersigned, against cust_a's export (later lines ignored)",
            plain,
            export=a,
        ),
        Case(
            "checkpoint",
            "valid-countersigned",
            "cust_a deltas 2..3 (opening 750), countersigned with Anvil account 2",
            mutual,
            export=a,
        ),
        Case(
            "checkpoint",
            "valid-int256-extremes",
            "cust_x deltas 0..1: 2^255 - 1 and -2^255, closing -1",
            r.tokens["extremes"],
            export=r.exports["cust_x"],
        ),
        Case(
            "checkpoint",
            "valid-export-to-toindex",
            "cust_a deltas 0..1 against an export that stops at toIndex",
            plain,
            export=a[:2],
        ),
        Case(
            "checkpoint",
            "invalid-token",
            "the token's version byte is 0x02: it cannot be decoded, every other check is skipped",
            "0x02" + plain[4:],
            export=a,
            exit=1,
            failed=CHECKPOINT_CHECKS,
        ),
        Case(
            "checkpoint",
            "invalid-token-pinned",
            "the contract is pinned to another address than the token's",
            plain,
            export=a,
            options={"contract": "0x" + "12" * 20},
            exit=1,
            failed=["token", "anchorer", "export"],
        ),
        Case(
            "checkpoint",
            "invalid-signature",
            "the node signature's v is 29: malformed, so no anchorer can be checked",
            bad_sig,
            export=a,
            exit=1,
            failed=["signature", "anchorer"],
        ),
        Case(
            "checkpoint",
            "invalid-anchorer",
            "re-signed by Anvil account 3, not an anchorer",
            token_edit(plain, OUTSIDER_KEY),
            export=a,
            exit=1,
            failed=["anchorer"],
        ),
        Case(
            "checkpoint",
            "invalid-countersignature",
            "the countersignature's v is 29: malformed",
            bad_counter,
            export=a,
            exit=1,
            failed=["countersignature"],
        ),
        Case(
            "checkpoint",
            "invalid-export",
            "a genuine token; the export's line 2 has altered metadata text",
            plain,
            export=[a[0], edited(a[1], at("metadata", '{"plan":"pro","units":4}')), a[2], a[3]],
            exit=1,
            failed=["export"],
        ),
        Case(
            "checkpoint",
            "invalid-range",
            "a genuine token for 0..1 against an export of line 1 only",
            plain,
            export=a[:1],
            exit=1,
            failed=["range", "net", "closing", "root", "head"],
        ),
        Case(
            "checkpoint",
            "invalid-range-count",
            "count 3 for 0..1, re-signed by the anchorer",
            token_edit(plain, count=3),
            export=a,
            exit=1,
            failed=["range", "net", "closing", "root"],
        ),
        Case(
            "checkpoint",
            "invalid-opening",
            "openingBalance +1 and closingBalance +1, re-signed by the anchorer",
            token_edit(
                mutual,
                opening_balance=m.opening_balance + 1,
                closing_balance=m.closing_balance + 1,
                countersignature=b"",
            ),
            export=a,
            exit=1,
            failed=["opening", "closing"],
        ),
        Case(
            "checkpoint",
            "invalid-net",
            "net +1 and closingBalance +1, re-signed by the anchorer",
            token_edit(plain, net=t.net + 1, closing_balance=t.closing_balance + 1),
            export=a,
            exit=1,
            failed=["net", "closing"],
        ),
        Case(
            "checkpoint",
            "invalid-closing",
            "closingBalance +1, re-signed by the anchorer",
            token_edit(plain, closing_balance=t.closing_balance + 1),
            export=a,
            exit=1,
            failed=["closing"],
        ),
        Case(
            "checkpoint",
            "invalid-root",
            "rangeRoot's last byte changed, re-signed by the anchorer",
            token_edit(plain, range_root=t.range_root[:-1] + bytes([t.range_root[-1] ^ 1])),
            export=a,
            exit=1,
            failed=["root"],
        ),
        Case(
            "checkpoint",
            "invalid-head",
            "headFingerprint set to delta 0's, re-signed by the anchorer",
            token_edit(plain, head_fingerprint=bytes.fromhex(a[0]["fingerprint"][2:])),
            export=a,
            exit=1,
            failed=["head"],
        ),
        Case(
            "checkpoint", "unusable-token-not-hex", "the token is not 0x hex", input_text="0xnot-hex", export=a, exit=2
        ),
        Case("checkpoint", "unusable-empty-export", "a genuine token with an empty export", plain, export=[], exit=2),
        Case(
            "checkpoint",
            "unusable-rpc-unreachable",
            "a genuine token, but nothing answers at the RPC URL",
            plain,
            export=a,
            rpc_unreachable=True,
            exit=2,
        ),
    ]


def evidence_cases(r: Recorded) -> list[Case]:
    p = r.packs["needs_evidence"]
    assert len(p["bundles"]) == 2, p["evidence"]
    return [
        Case(
            "evidence",
            "valid",
            "needs_evidence: cust_a's ref_a3 only in the record, ref_a1 differs, ref_x9 only theirs",
            p,
        ),
        Case("evidence", "valid-match", "match: cust_b's two deltas agree, no bundles", r.packs["match"]),
        Case(
            "evidence",
            "invalid-format",
            "version pacspace.evidence.v0",
            edited(p, at("version", "pacspace.evidence.v0")),
            exit=1,
            failed=["format"],
        ),
        Case(
            "evidence",
            "invalid-arithmetic",
            "counts.onlyInTheirs is 2, the list holds 1",
            edited(p, at("evidence.counts.onlyInTheirs", 2)),
            exit=1,
            failed=["arithmetic"],
        ),
        Case(
            "evidence",
            "invalid-arithmetic-variance",
            "variance +1",
            edited(p, at("comparison.variance", p["comparison"]["variance"] + 1)),
            exit=1,
            failed=["arithmetic"],
        ),
        Case(
            "evidence",
            "invalid-coverage",
            "the last bundle dropped",
            edited(p, at("bundles", p["bundles"][:-1])),
            exit=1,
            failed=["coverage"],
        ),
        Case(
            "evidence",
            "invalid-items",
            "onlyInRecord[0].delta changed: not the bundle's delta",
            edited(p, at("evidence.onlyInRecord.0.delta", p["evidence"]["onlyInRecord"][0]["delta"] + 1)),
            exit=1,
            failed=["items"],
        ),
        Case(
            "evidence",
            "invalid-bundles",
            "bundles[0]'s metadata text changed",
            edited(p, at("bundles.0.metadata", '{"n":-5}')),
            exit=1,
            failed=["bundles"],
        ),
        Case(
            "evidence",
            "invalid-resolution",
            "resolution auto_settled, but the variance is beyond the tolerance",
            edited(p, at("comparison.resolution", "auto_settled")),
            exit=1,
            failed=["resolution"],
        ),
        Case("evidence", "unusable-not-json", "the input is not JSON", input_text="[not json", exit=2),
        Case(
            "evidence", "unusable-no-pack-members", "a proof bundle instead of a pack", {"receiptId": "rcpt_x"}, exit=2
        ),
        Case(
            "evidence",
            "unusable-rpc-unreachable",
            "a genuine pack, but nothing answers at the RPC URL",
            p,
            rpc_unreachable=True,
            exit=2,
        ),
    ]


def revoke_anchorer(rpc: str, contract: str) -> None:
    w3 = connect(rpc)
    owner = account_from_key(DEV_OWNER_KEY)
    anchorer = account_from_key(DEV_ANCHORER_KEY)
    data = selector("setAnchorer(address,bool)") + encode(["address", "bool"], [anchorer.address, False]).hex()
    tx = {"to": w3.to_checksum_address(contract), "data": data, "from": owner.address, "gas": 100_000}
    tx.update({"nonce": w3.eth.get_transaction_count(owner.address), "chainId": 31337})
    tx.update({"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    signed = owner.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="overwrite tests/vectors/v1 (never once committed)")
    parser.add_argument("--check-only", action="store_true", help="build and check every case, write nothing")
    args = parser.parse_args(argv)
    if OUT.exists() and any(OUT.rglob("*.json")) and not (args.force or args.check_only):
        print(f"{OUT} exists: committed vectors are never regenerated (add new ones in a new directory)")
        return 1
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    anvil_version = subprocess.run([find_anvil(), "--version"], capture_output=True, text=True).stdout.strip()
    anvil = start_anvil(port=free_port())
    try:
        contract = deploy_dev_contract(anvil.rpc_url, ARTIFACT)
        with tempfile.TemporaryDirectory() as work:
            recorded = record(anvil.rpc_url, contract, Path(work))
        provenance = (
            f"tests/vectors/tools/generate_v1.py at commit {commit}: a real node and Anvil (chain 31337), "
            f"contract {contract}, {anvil_version.splitlines()[0] if anvil_version else 'anvil'}"
        )
        cases = bundle_cases(recorded) + derive_cases(recorded) + checkpoint_cases(recorded) + evidence_cases(recorded)
        built: list[tuple[Case, dict[str, Any]]] = []
        problems: list[str] = []
        for case in cases:
            vector, issues = build_vector(case, anvil.rpc_url, provenance)
            problems += [f"{case.mode}/{case.name}: {issue}" for issue in issues]
            built.append((case, vector))
        revoke_anchorer(anvil.rpc_url, contract)
        case = anchorer_revoked_case(recorded)
        vector, issues = build_vector(case, anvil.rpc_url, provenance)
        problems += [f"{case.mode}/{case.name}: {issue}" for issue in issues]
        built.append((case, vector))
    finally:
        anvil.stop()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    names = [f"{c.mode}/{c.name}" for c, _ in built]
    assert len(set(names)) == len(names), "two cases share a name"
    if args.check_only:
        print(f"{len(built)} cases as declared (nothing written)")
        return 0
    for case, vector in built:
        path = OUT / case.mode / f"{case.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(vector, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(built)} vectors under {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
