"""Generate the protocol test vectors (tests/vectors/v<N>/) from a real node and a real Anvil.

Run once per protocol version, by hand, not by CI (vectors are never edited once committed, only
added)::

    export FOUNDRY_SOLC="$PWD/scripts/solc" ETH_HASH_BACKEND=pysha3
    .venv/bin/python -m tests.vectors.tools.generate --protocol 1|2 [--check-only | --force]

(``tests.vectors.tools.generate_v1`` is ``--protocol 1``.)

Provenance: it starts Anvil (chain id 31337) and deploys the anchor contract of that protocol
version (node/dev/chain.py: owner Anvil account 0, anchorer account 1; for protocol 1 the v1
contract, on which the node issues v1 bundles; for protocol 2 contract v2, whose first receipt
signer is account 1 too), starts a real node in this process (tests/conftest.py's ``start_node``),
records deltas for three customers (with and without metadata, a correction through
``correctsReceiptId``, the int256 extremes), waits until they are verified, and fetches proof
bundles, exports, checkpoint proofTokens (one countersigned with Anvil account 2, one not) and two
comparisons' evidence packs.

Protocol 2 also rotates the receipt signer as docs/KEYS.md says: after the first deltas and
tokens, the owner authorises Anvil account 4 (``authoriseSigner``), the node restarts with it as
its receipt signer (the anchoring key stays account 1), records a delta, the owner revokes account
1 as a signer (``revokeSigner``, once all it signed is anchored), and the node records one more
delta and issues tokens with the new key; exports and packs then mix both keys. A protocol v1
contract is deployed next to it for the cases that check a v2 bundle against a v1 contract.

It stops the node (so the chain no longer moves), then, for every case, writes the input, runs the
verifier on it through a ``RecordingProxy`` in front of Anvil, keeps the transcript, optionally
edits one recorded answer (the description says so: how a chain that says otherwise is
simulated), replays it through a ``ReplayServer`` and checks that the verifier gives the case's
declared exit status and failed checks. Bundle cases also run through the node's own checks
(node.ledger.verification) so the transcript answers them too. Nothing is written unless every case gives
what it declares. The last cases remove the anchorer on chain (setAnchorer(anchorer, false)) and
record what a verifier sees then (v1: the receipts no longer verify; v2: they do, anchorers say
nothing about receipts).
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
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.types import TransactionDictType
from eth_typing import HexStr

from node.chain.client import AnchorClient, account_from_key, connect
from node.core.hashing import from_hex
from node.dev.chain import (
    DEV_ANCHORER_KEY,
    DEV_OWNER_KEY,
    deploy_dev_contract,
    deploy_dev_contract_v1,
    find_anvil,
    free_port,
    start_anvil,
)
from node.keys.signers import authorise_signer, revoke_signer
from node.ledger.verification import verify_bundle
from node.store.db import Store
from pacspace_verify import protocol as vp
from pacspace_verify.cli import main as verifier_main
from pacspace_verify.proof_token import Token, checkpoint_digest, decode_token
from tests.conftest import Deployment, start_node, wait_for_status
from tests.vectors.replay import RecordingProxy, ReplayServer

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "tests" / "vectors"
PROTOCOLS = (1, 2)
COUNTERSIGNER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil account 2
OUTSIDER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"  # Anvil account 3
NEW_SIGNER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"  # Anvil account 4
ZERO32 = "0x" + "00" * 32

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
    results = verify_bundle(bundle, rpc_url=rpc, contract=contract, required_confirmations=confirmations)
    return sorted(r.name for r in results if not r.ok)


def build_vector(case: Case, anvil_url: str, provenance: str, protocol: int) -> tuple[dict[str, Any], list[str]]:
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
    vector: dict[str, Any] = {"description": case.description, "protocol": protocol, "mode": case.mode}
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
    return f"0x{t.protocol.token_version:02x}" + encode(list(vp.TOKEN_TYPES), values).hex()


def resign(t: Token, key: str = DEV_ANCHORER_KEY) -> Token:
    signed = Account.unsafe_sign_hash(checkpoint_digest(t), key)
    return Token(**{**t.__dict__, "node_signature": bytes(signed.signature)})


def token_edit(token: str, key: str = DEV_ANCHORER_KEY, **changes: Any) -> str:
    t = decode_token(bytes.fromhex(token[2:]))
    return token_hex(resign(Token(**{**t.__dict__, **changes}), key))


# --- the node's data ---------------------------------------------------------------------------


@dataclass
class Recorded:
    protocol: int
    contract: str
    bundles: dict[str, Json]
    exports: dict[str, list[Json]]
    tokens: dict[str, str]
    packs: dict[str, Json]
    deploy_tx: str
    # protocol 2: the rotation (log indexes of the two signers' windows) and a v1 contract beside it
    old_window: tuple[int, int] = (0, 0)
    new_from: int = 0
    v1_contract: str = ""
    v1_revert: dict[str, Any] = field(default_factory=dict)


def post(client: Any, customer: str, delta: int, ref: str, reason: str, **extra: Any) -> dict[str, Any]:
    body = {"customerId": customer, "delta": delta, "reason": reason, "referenceId": ref, **extra}
    response = client.post("/v1/balance/delta", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def record_deltas(client: Any) -> dict[str, dict[str, Any]]:
    """The deltas every protocol version's vectors are cut from, waited for until verified."""
    receipts: dict[str, dict[str, Any]] = {}
    receipts["a0"] = post(client, "cust_a", 1000, "ref_a0", "top-up")
    receipts["a1"] = post(client, "cust_a", -250, "ref_a1", "usage", metadata={"plan": "pro", "units": 3})
    receipts["a2"] = post(
        client, "cust_a", 250, "ref_a2", "credit: usage billed twice", correctsReceiptId=receipts["a1"]["receiptId"]
    )
    receipts["a3"] = post(
        client,
        "cust_a",
        -100,
        "ref_a3",
        "usage",
        metadata={"note": 'café ☕ "quoted"\n', "n": -5, "tags": ["x", {"b": True, "a": None}]},
    )
    receipts["x0"] = post(client, "cust_x", 2**255 - 1, "ref_x0", "int256 max")
    receipts["x1"] = post(client, "cust_x", -(2**255), "ref_x1", "int256 min")
    receipts["b0"] = post(client, "cust_b", 5, "ref_b0", "usage")
    receipts["b1"] = post(client, "cust_b", 7, "ref_b1", "usage")
    for r in receipts.values():
        wait_for_status(client, r["receiptId"], "verified")
    return receipts


def checkpoint(client: Any, customer: str, from_index: int, to_index: int) -> dict[str, Any]:
    response = client.post(
        "/v1/checkpoints", json={"customerId": customer, "fromIndex": from_index, "toIndex": to_index}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def record_tokens(client: Any) -> dict[str, str]:
    tokens: dict[str, str] = {"plain": checkpoint(client, "cust_a", 0, 1)["proofToken"]}
    mutual = checkpoint(client, "cust_a", 2, 3)
    signature = Account.sign_typed_data(COUNTERSIGNER_KEY, full_message=mutual["typedData"]).signature
    signed = client.post(
        f"/v1/checkpoints/{mutual['checkpointId']}/countersign",
        json={"signature": "0x" + bytes(signature).hex()},
    )
    assert signed.status_code == 200, signed.text
    tokens["countersigned"] = signed.json()["proofToken"]
    tokens["extremes"] = checkpoint(client, "cust_x", 0, 1)["proofToken"]
    return tokens


def record_outputs(
    client: Any, receipts: dict[str, dict[str, Any]], their_a: list[dict[str, Any]]
) -> tuple[dict[str, Json], dict[str, list[Json]], dict[str, Json]]:
    """Bundles of ``receipts``, the three exports and two comparisons' evidence packs."""
    bundles = {name: client.get(f"/v1/receipts/{r['receiptId']}/proof").json() for name, r in receipts.items()}
    exports = {
        c: [
            json.loads(line)
            for line in client.get("/v1/balance/export", params={"customerId": c}).text.splitlines()
            if line
        ]
        for c in ("cust_a", "cust_x", "cust_b")
    }
    packs: dict[str, Json] = {}
    disputed = client.post("/v1/balance/compare", params={"customerId": "cust_a"}, json={"theirDeltas": their_a}).json()
    assert disputed["resolution"] == "needs_evidence", disputed
    packs["needs_evidence"] = client.get(f"/v1/comparisons/{disputed['comparisonId']}/evidence").json()
    match = client.post(
        "/v1/balance/compare",
        params={"customerId": "cust_b"},
        json={"theirDeltas": [{"referenceId": "ref_b0", "delta": 5}, {"referenceId": "ref_b1", "delta": 7}]},
    ).json()
    assert match["resolution"] == "match", match
    packs["match"] = client.get(f"/v1/comparisons/{match['comparisonId']}/evidence").json()
    return bundles, exports, packs


THEIR_A = [
    {"referenceId": "ref_a0", "delta": 1000},
    {"referenceId": "ref_a1", "delta": -200},
    {"referenceId": "ref_a2", "delta": 250},
    {"referenceId": "ref_x9", "delta": 42},
]


def deployment_tx(rpc: str) -> str:
    tx = connect(rpc).eth.get_block(1)["transactions"][0]
    assert isinstance(tx, bytes)  # a hash: the block is fetched without full transactions
    return "0x" + bytes(tx).hex()


def record_v1(rpc: str, contract: str, work: Path) -> Recorded:
    node = start_node(Deployment(rpc, contract), work)
    try:
        with node.client() as client:
            receipts = record_deltas(client)
            tokens = record_tokens(client)
            bundles, exports, packs = record_outputs(client, receipts, THEIR_A)
    finally:
        node.stop()
    return Recorded(1, contract, bundles, exports, tokens, packs, deployment_tx(rpc))


def address_of(key: str) -> bytes:
    return from_hex(Account.from_key(key).address.lower(), length=20)


def record_v2(rpc: str, contract: str, work: Path) -> Recorded:
    """Protocol 2: the v1 data by the first signer, then a rotation to account 4 and a revocation."""
    deployment = Deployment(rpc, contract)
    db_url = f"sqlite:///{work / 'node.db'}"
    node = start_node(deployment, work, db_url)
    try:
        with node.client() as client:
            receipts = record_deltas(client)
            tokens = record_tokens(client)  # by the first signer, account 1
    finally:
        node.stop()
    chain = AnchorClient(connect(rpc), contract)
    owner = account_from_key(DEV_OWNER_KEY)
    old, new = address_of(DEV_ANCHORER_KEY), address_of(NEW_SIGNER_KEY)
    authorise_signer(chain, owner, new)
    node = start_node(deployment, work, db_url, receipt_signer_key=NEW_SIGNER_KEY, anchor_key=DEV_ANCHORER_KEY)
    try:
        with node.client() as client:
            receipts["a4"] = post(client, "cust_a", -40, "ref_a4", "usage")  # the new key's first delta
            wait_for_status(client, receipts["a4"]["receiptId"], "verified")
            store = Store(db_url)
            try:
                revoke_signer(chain, store, owner, old)
            finally:
                store.close()
            receipts["a5"] = post(client, "cust_a", -60, "ref_a5", "usage", metadata={"plan": "pro"})
            wait_for_status(client, receipts["a5"]["receiptId"], "verified")
            tokens["rotated"] = checkpoint(client, "cust_b", 0, 1)["proofToken"]  # new key, head by the old one
            tokens["new"] = checkpoint(client, "cust_a", 4, 5)["proofToken"]  # new key, head by the new one
            their = [*THEIR_A, {"referenceId": "ref_a4", "delta": -40}]  # only in the record: a3 (old), a5 (new)
            bundles, exports, packs = record_outputs(client, receipts, their)
    finally:
        node.stop()
    old_window, new_window = chain.signer_window(old), chain.signer_window(new)
    assert old_window is not None and not old_window.active and new_window is not None and new_window.active
    v1_contract = deploy_dev_contract_v1(rpc)
    call = {"to": v1_contract, "data": selector("protocolVersion()")}
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]}
    with urllib.request.urlopen(
        urllib.request.Request(rpc, json.dumps(request).encode(), {"Content-Type": "application/json"})
    ) as response:
        answer = json.loads(response.read())
    assert "error" in answer, answer  # a v1 contract has no protocolVersion(): the call reverts
    return Recorded(
        2,
        contract,
        bundles,
        exports,
        tokens,
        packs,
        deployment_tx(rpc),
        old_window=(old_window.from_index, old_window.until_index),
        new_from=new_window.from_index,
        v1_contract=v1_contract,
        v1_revert=answer["error"],
    )


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
            "version is pacspace.proof.v0: only the format check fails"
            if r.protocol == 1
            else "version is pacspace.proof.v0: format fails; the verifier checks a bundle of an unknown version by "
            "v1's rules, so the domain version \"2\", the v1 digest and anchorer (v1's rules want a v1 contract; "
            "protocolVersion() answers 2) fail too",
            edited(b, at("version", "pacspace.proof.v0")),
            exit=1,
            failed=["format"] if r.protocol == 1 else ["anchorer", "domain", "fingerprint", "format"],
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


def resigned(bundle: Json, key: str) -> Json:
    """``bundle`` with its (unchanged) fingerprint signed by ``key``, and ``signer`` set to that key's address."""
    signature = Account.unsafe_sign_hash(bytes.fromhex(bundle["fingerprint"][2:]), key).signature
    return edited(bundle, at("signature", "0x" + bytes(signature).hex()), at("signer", "0x" + address_of(key).hex()))


def v1_contract_answer(r: Recorded) -> Edit:
    """protocolVersion() answered as a protocol v1 contract answers it: the revert recorded from a real one."""

    def edit(transcript: list[dict[str, Any]]) -> None:
        hits = [
            e
            for e in transcript
            if e["method"] == "eth_call" and e["params"][0]["data"] == selector("protocolVersion()")
        ]
        assert len(hits) == 1, hits
        del hits[0]["result"]
        hits[0]["error"] = r.v1_revert

    return edit


def bundle_cases_v2(r: Recorded) -> list[Case]:
    """Protocol 2's own bundle cases: the signer windows of a rotated and revoked key."""
    old_from, old_until = r.old_window
    log = {name: int(b["logIndex"]) for name, b in r.bundles.items()}
    assert log["a4"] == r.new_from < old_until <= log["a5"], (log, r.old_window, r.new_from)
    old_window = f"[{old_from}, {old_until})"
    return [
        Case(
            "bundle",
            "valid-signer-rotated-and-revoked",
            f"a genuine bundle (log index {log['b1']}) signed by Anvil account 1, the first receipt signer, which was "
            f"rotated out (account 4 authorised from log index {r.new_from}) and revoked (window {old_window}) "
            "before this was recorded: isSignerFor(signer, logIndex) is still true",
            r.bundles["b1"],
        ),
        Case(
            "bundle",
            "valid-new-signer-first-index",
            f"a genuine bundle signed by account 4 at log index {log['a4']}, the first of its window, while account 1 "
            "was still authorised too",
            r.bundles["a4"],
        ),
        Case(
            "bundle",
            "valid-new-signer",
            f"a genuine bundle with metadata signed by account 4 at log index {log['a5']}, after account 1 was revoked",
            r.bundles["a5"],
        ),
        Case(
            "bundle",
            "invalid-anchorer",
            f"the log index {log['a5']} bundle re-signed by the revoked account 1 (signer and signature replaced): its "
            f"window {old_window} does not cover that log index, so isSignerFor is false; only anchorer fails",
            resigned(r.bundles["a5"], DEV_ANCHORER_KEY),
            exit=1,
            failed=["anchorer"],
        ),
        Case(
            "bundle",
            "invalid-anchorer-before-window",
            f"the log index {log['a1']} bundle re-signed by account 4, whose window opens at {r.new_from}: a new key "
            "does not count for receipts anchored before it was authorised",
            resigned(r.bundles["a1"], NEW_SIGNER_KEY),
            exit=1,
            failed=["anchorer"],
        ),
        Case(
            "bundle",
            "invalid-anchorer-never-signer",
            "re-signed by Anvil account 3, never a receipt signer of the contract (signerWindow: exists false)",
            resigned(r.bundles["a1"], OUTSIDER_KEY),
            exit=1,
            failed=["anchorer"],
        ),
        Case(
            "bundle",
            "invalid-anchorer-v1-contract",
            "a genuine v2 bundle, but the recorded protocolVersion() answer replaced by the revert a real protocol v1 "
            "contract on the same chain gave (a v2 bundle needs a v2 contract's signer windows)",
            r.bundles["a1"],
            rpc_edit=v1_contract_answer(r),
            exit=1,
            failed=["anchorer"],
        ),
        Case(
            "bundle",
            "invalid-anchorer-v1-contract-pinned",
            f"a genuine v2 bundle checked with the contract pinned to a real protocol v1 contract ({r.v1_contract}, "
            "anchorer account 1): not the bundle's domain, protocolVersion() reverts, no such batch there",
            r.bundles["a1"],
            options={"contract": r.v1_contract},
            exit=1,
            failed=["domain", "anchorer", "commitment", "transaction"],
        ),
        Case(
            "bundle",
            "invalid-domain-version",
            'typedData.domain.version is "1" in a pacspace.proof.v2 bundle: domain fails, and typedData\'s digest is '
            "no longer the fingerprint",
            edited(r.bundles["a1"], at("typedData.domain.version", "1")),
            exit=1,
            failed=["domain", "fingerprint"],
        ),
        Case(
            "bundle",
            "invalid-format-relabelled-v1",
            "version relabelled pacspace.proof.v1: checked by v1's rules, the domain version \"2\" is not v1's, the "
            "v1 digest is not the fingerprint, and anchorer fails: v1's rules want a v1 contract and protocolVersion() "
            "answers 2 (v1's isAnchorer alone would still answer true for account 1)",
            edited(r.bundles["a1"], at("version", "pacspace.proof.v1")),
            exit=1,
            failed=["anchorer", "domain", "fingerprint"],
        ),
    ]


def derive_cases_v2(r: Recorded) -> list[Case]:
    a = r.exports["cust_a"]
    return [
        Case(
            "derive",
            "invalid-bundle-anchorer",
            f"cust_a's export with line 6 (log index {a[5]['logIndex']}, account 4) re-signed by account 1, revoked "
            f"at log index {r.old_window[1]}: the anchorer check fails inside the export (signerWindow)",
            [*a[:5], resigned(a[5], DEV_ANCHORER_KEY)],
            exit=1,
            failed=["anchorer"],
        ),
    ]


def checkpoint_cases_v2(r: Recorded) -> list[Case]:
    """The shared cases' cust_a 0..1 and 2..3 tokens are account 1's, made before it was revoked."""
    a, b = r.exports["cust_a"], r.exports["cust_b"]
    head, b_head = int(a[5]["logIndex"]), int(b[1]["logIndex"])
    return [
        Case(
            "checkpoint",
            "valid-rotated-signer",
            f"cust_b deltas 0..1 signed by account 4 (window from log index {r.new_from}); the head delta (log index "
            f"{b_head}) was signed by account 1: a token's signer need only not be revoked before the head delta",
            r.tokens["rotated"],
            export=b,
        ),
        Case(
            "checkpoint",
            "valid-new-signer",
            f"cust_a deltas 4..5 (opening 900) signed by account 4, head delta log index {head}, after account 1 "
            "was revoked",
            r.tokens["new"],
            export=a,
        ),
        Case(
            "checkpoint",
            "invalid-anchorer-revoked",
            f"cust_a deltas 4..5 re-signed by account 1, revoked at log index {r.old_window[1]}, before the head "
            f"delta (log index {head}): only anchorer fails",
            token_edit(r.tokens["new"], DEV_ANCHORER_KEY),
            export=a,
            exit=1,
            failed=["anchorer"],
        ),
    ]


def after_anchorer_removed(r: Recorded) -> Case:
    """Recorded after the owner's setAnchorer(account 1, false): v1 receipts fail, v2 receipts do not care."""
    if r.protocol == 1:
        return Case(
            "bundle",
            "invalid-anchorer",
            "the contract owner revoked the signer (setAnchorer(signer, false)) after anchoring: isAnchorer is false",
            r.bundles["a1"],
            exit=1,
            failed=["anchorer"],
        )
    return Case(
        "bundle",
        "valid-anchoring-key-removed",
        "the owner removed account 1 as an anchorer (setAnchorer(account 1, false)) after it anchored this bundle: "
        "a v2 receipt's signer is judged by its signer window, not by isAnchorer",
        r.bundles["a1"],
    )


def derive_cases(r: Recorded) -> list[Case]:
    a = r.exports["cust_a"]
    indexes = [int(line["typedData"]["message"]["customerIndex"]) for line in a]
    assert indexes == list(range(4 if r.protocol == 1 else 6)), indexes
    bline = r.exports["cust_b"][1]
    edited_prev = edited(a[2], at("typedData.message.prevFingerprint", a[0]["fingerprint"]))
    keys = (
        ""
        if r.protocol == 1
        else f" (lines 1-4 signed by account 1, revoked at log index {r.old_window[1]} since, lines 5-6 by account 4)"
    )
    return [
        Case("derive", "valid", f"cust_a's export: {len(a)} deltas, metadata, a correction{keys}", a),
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
            [a[0], a[1], a[1], *a[2:]],
            exit=1,
            failed=["order"],
        ),
        Case(
            "derive",
            "invalid-link",
            "line 3's prevFingerprint edited to line 1's fingerprint (so the fingerprint fails too)",
            [a[0], a[1], edited_prev, *a[3:]],
            exit=1,
            failed=["link", "fingerprint"],
        ),
        Case(
            "derive",
            "invalid-corrects",
            "line 4's corrects edited to a fingerprint not in the export (so the fingerprint fails too)",
            [*a[:3], edited(a[3], at("typedData.message.corrects", "0x" + "ab" * 32)), *a[4:]],
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
            [a[0], edited(a[1], at("chainId", 1), at("typedData.domain.chainId", 1)), *a[2:]],
            exit=1,
            failed=["deployment", "fingerprint", "chain_id"],
        ),
        Case(
            "derive",
            "invalid-bundle",
            "line 2's metadata text changed: a bundle check fails inside the export",
            [a[0], edited(a[1], at("metadata", '{"plan":"pro","units":4}')), *a[2:]],
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
    # A version byte no protocol version takes (v1's own vector used 0x02, which v2 made a known version).
    unknown = 0xFF
    by = "the anchorer" if r.protocol == 1 else "Anvil account 1 (the first receipt signer, since revoked)"
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
            f"the token's version byte is 0x{unknown:02x}: it cannot be decoded, every other check is skipped",
            f"0x{unknown:02x}" + plain[4:],
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
            "re-signed by Anvil account 3, not an anchorer"
            + ("" if r.protocol == 1 else " and never a receipt signer"),
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
            export=[a[0], edited(a[1], at("metadata", '{"plan":"pro","units":4}')), *a[2:]],
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
            f"count 3 for 0..1, re-signed by {by}",
            token_edit(plain, count=3),
            export=a,
            exit=1,
            failed=["range", "net", "closing", "root"],
        ),
        Case(
            "checkpoint",
            "invalid-opening",
            f"openingBalance +1 and closingBalance +1, re-signed by {by}",
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
            f"net +1 and closingBalance +1, re-signed by {by}",
            token_edit(plain, net=t.net + 1, closing_balance=t.closing_balance + 1),
            export=a,
            exit=1,
            failed=["net", "closing"],
        ),
        Case(
            "checkpoint",
            "invalid-closing",
            f"closingBalance +1, re-signed by {by}",
            token_edit(plain, closing_balance=t.closing_balance + 1),
            export=a,
            exit=1,
            failed=["closing"],
        ),
        Case(
            "checkpoint",
            "invalid-root",
            f"rangeRoot's last byte changed, re-signed by {by}",
            token_edit(plain, range_root=t.range_root[:-1] + bytes([t.range_root[-1] ^ 1])),
            export=a,
            exit=1,
            failed=["root"],
        ),
        Case(
            "checkpoint",
            "invalid-head",
            f"headFingerprint set to delta 0's, re-signed by {by}",
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
    assert len(p["bundles"]) == (2 if r.protocol == 1 else 3), p["evidence"]
    return [
        Case(
            "evidence",
            "valid",
            "needs_evidence: cust_a's ref_a3 only in the record, ref_a1 differs, ref_x9 only theirs"
            + ("" if r.protocol == 1 else "; ref_a5 only in the record too, signed by account 4 (ref_a3, ref_a1 by 1)"),
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
    tx: TransactionDictType = {
        "to": w3.to_checksum_address(contract),
        "data": HexStr(data),
        "from": owner.address,
        "gas": 100_000,
    }
    tx.update({"nonce": w3.eth.get_transaction_count(owner.address), "chainId": 31337})
    tx.update({"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    signed = owner.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1


def all_cases(r: Recorded) -> list[Case]:
    """Every case but the last (after_anchorer_removed), in file order of the modes."""
    cases = bundle_cases(r)
    if r.protocol == 2:
        cases += bundle_cases_v2(r)
    cases += derive_cases(r) + (derive_cases_v2(r) if r.protocol == 2 else [])
    cases += checkpoint_cases(r) + (checkpoint_cases_v2(r) if r.protocol == 2 else [])
    return cases + evidence_cases(r)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", type=int, choices=PROTOCOLS, required=True, help="the version to generate")
    parser.add_argument("--force", action="store_true", help="overwrite tests/vectors/v<N> (never once committed)")
    parser.add_argument("--check-only", action="store_true", help="build and check every case, write nothing")
    args = parser.parse_args(argv)
    out = VECTORS / f"v{args.protocol}"
    if out.exists() and any(out.rglob("*.json")) and not (args.force or args.check_only):
        print(f"{out} exists: committed vectors are never regenerated (add new ones in a new directory)")
        return 1
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    anvil_version = subprocess.run([find_anvil(), "--version"], capture_output=True, text=True).stdout.strip()
    anvil = start_anvil(port=free_port())
    try:
        if args.protocol == 1:
            contract = deploy_dev_contract_v1(anvil.rpc_url)
            record = record_v1
        else:
            contract = deploy_dev_contract(anvil.rpc_url)
            record = record_v2
        with tempfile.TemporaryDirectory() as work:
            recorded = record(anvil.rpc_url, contract, Path(work))
        provenance = (
            f"tests/vectors/tools/generate.py --protocol {args.protocol} at commit {commit}: a real node and Anvil "
            f"(chain 31337), contract v{args.protocol} {contract}, "
            f"{anvil_version.splitlines()[0] if anvil_version else 'anvil'}"
        )
        built: list[tuple[Case, dict[str, Any]]] = []
        problems: list[str] = []

        def build(case: Case) -> None:
            vector, issues = build_vector(case, anvil.rpc_url, provenance, args.protocol)
            problems.extend(f"{case.mode}/{case.name}: {issue}" for issue in issues)
            built.append((case, vector))

        for case in all_cases(recorded):
            build(case)
        revoke_anchorer(anvil.rpc_url, contract)
        build(after_anchorer_removed(recorded))
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
        path = out / case.mode / f"{case.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(vector, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(built)} vectors under {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
