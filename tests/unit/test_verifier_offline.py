"""scripts/verify_receipt.py, the auditor's standalone verifier, without a chain.

The valid bundle is built from docs/PROTOCOL.md's worked example only (never from the node),
so these tests also show that the document is enough to produce a bundle the verifier accepts.
On-chain checks run against an in-memory fake chain that answers as the contract would.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from tests.support import load_verifier, worked_example

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PROTOCOL.md"
SCRIPT = ROOT / "scripts" / "verify_receipt.py"
OFFLINE = ["format", "domain", "fingerprint", "metadata", "signature", "leaf", "proof", "range"]
ONCHAIN = ["chain_id", "anchorer", "commitment", "transaction", "block", "confirmations"]
TX_HASH = "0x" + "ab" * 32
BLOCK_HASH = "0x" + "cd" * 32
OTHER = "0x" + "ee" * 32


vr = load_verifier()


def _doc_type(name: str) -> list[dict[str, str]]:
    """A struct type as a typed-data field list, parsed from the document's type string."""
    match = re.search(rf"^{name}\(([^)]*)\)", DOC.read_text(), re.M)
    assert match, f"{name}(...) type string missing from docs/PROTOCOL.md"
    fields = [part.split(" ") for part in match.group(1).split(",")]
    return [{"name": n, "type": t} for t, n in fields]


def _valid_bundle() -> dict[str, Any]:
    ex = worked_example()
    want = ex["expected"]
    d = ex["deltas"][0]
    message = {
        "tenant": d["tenant"],
        "customerId": d["customerId"],
        "delta": str(int(d["delta"])),
        "reason": d["reason"],
        "referenceId": d["referenceId"],
        "metadataHash": want["metadataHash0"],
        "customerIndex": str(int(d["customerIndex"])),
        "prevFingerprint": d["prevFingerprint"],
        "corrects": d["corrects"],
        "recordedAt": str(int(d["recordedAt"])),
        "salt": d["salt"],
    }
    domain = {
        "name": "PacSpace",
        "version": "1",
        "chainId": ex["domain"]["chainId"],
        "verifyingContract": ex["domain"]["verifyingContract"],
    }
    return {
        "version": "pacspace.proof.v1",
        "receiptId": "rcpt_worked_example",
        "chainId": ex["domain"]["chainId"],
        "contract": ex["domain"]["verifyingContract"],
        "typedData": {
            "types": {"EIP712Domain": _doc_type("EIP712Domain"), "Delta": _doc_type("Delta")},
            "primaryType": "Delta",
            "domain": domain,
            "message": message,
        },
        "metadata": want["canonicalMetadata0"],
        "fingerprint": want["fingerprint0"],
        "signature": want["signature0"],
        "signer": want["signer"],
        "logIndex": d["logIndex"],
        "leaf": want["leaf7"],
        "proof": want["proof7"],
        "batch": {
            "id": 0,
            "root": want["root"],
            "startIndex": 7,
            "count": 2,
            "txHash": TX_HASH,
            "blockNumber": 1,
            "blockHash": BLOCK_HASH,
        },
    }


def _b(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr[2:])


@dataclass
class FakeChain:
    """Answers like an honest chain on which the worked example's batch was anchored in block 1."""

    url: str = "fake://chain"
    chain: int = 31337
    contract: bytes = field(default_factory=lambda: _b(worked_example()["domain"]["verifyingContract"]))
    anchorers: set[bytes] = field(default_factory=lambda: {_b(worked_example()["expected"]["signer"])})
    commitments: dict[int, bytes] = field(default_factory=dict)
    blocks: dict[int, bytes] = field(default_factory=lambda: {1: _b(BLOCK_HASH)})
    head_number: int = 1
    receipt_status: int = 1
    event_batch_id: int = 0

    def __post_init__(self) -> None:
        root = _b(worked_example()["expected"]["root"])
        if not self.commitments:
            self.commitments = {7: keccak(root + (2).to_bytes(32, "big"))}

    def chain_id(self) -> int:
        return self.chain

    def code_size(self, contract: bytes) -> int:
        return 1000 if contract == self.contract else 0

    def is_anchorer(self, contract: bytes, account: bytes) -> bool:
        return contract == self.contract and account in self.anchorers

    def batch_commitment(self, contract: bytes, start_index: int) -> bytes:
        return self.commitments.get(start_index, bytes(32)) if contract == self.contract else b""

    def verify(
        self,
        contract: bytes,
        start_index: int,
        count: int,
        root: bytes,
        log_index: int,
        fingerprint: bytes,
        proof: list[bytes],
    ) -> bool:
        stored = self.commitments.get(start_index, bytes(32))
        if stored == bytes(32) or stored != keccak(root + count.to_bytes(32, "big")):
            return False
        if not start_index <= log_index < start_index + count:
            return False
        node = keccak(keccak(log_index.to_bytes(32, "big") + fingerprint))
        for sibling in proof:
            node = keccak(min(node, sibling) + max(node, sibling))
        return node == root

    def transaction_receipt(self, tx_hash: bytes) -> Any:
        if tx_hash != _b(TX_HASH):
            return None
        want = worked_example()["expected"]
        log = vr.LogEntry(
            address=self.contract,
            topics=[
                keccak(text="BatchAnchored(uint64,bytes32,uint64,uint32,address)"),
                self.event_batch_id.to_bytes(32, "big"),
                _b(want["root"]),
                bytes(12) + _b(want["signer"]),
            ],
            data=(7).to_bytes(32, "big") + (2).to_bytes(32, "big"),
        )
        return vr.TxReceipt(
            status=self.receipt_status,
            to=self.contract,
            block_number=1,
            block_hash=_b(BLOCK_HASH),
            logs=[log],
        )

    def block_hash(self, number: int) -> bytes | None:
        return self.blocks.get(number)

    def head(self) -> int:
        return self.head_number


def _failed(results: list[Any]) -> dict[str, str]:
    return {r.name: r.detail for r in results if not r.ok}


def _run(bundle: object, chain: FakeChain | None = None, **kw: Any) -> list[Any]:
    parsed = vr.parse_bundle(bundle)
    return vr.run_all_checks(  # type: ignore[no-any-return]
        parsed,
        chain or FakeChain(),
        kw.get("pinned"),
        kw.get("required", 1),
    )


def _set(bundle: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = bundle
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


# --- the valid bundle ------------------------------------------------------------------------


def test_script_does_not_import_the_node_package() -> None:
    """The verifier proves the protocol document is enough: neither the script nor its package uses node."""
    paths = [SCRIPT, *sorted((ROOT / "verifier" / "src" / "pacspace_verify").glob("*.py"))]
    assert len(paths) > 10
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "node" for a in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "node", path


def test_offline_checks_pass_on_the_workedworked_example() -> None:
    results = vr.run_offline_checks(vr.parse_bundle(_valid_bundle()))
    assert [r.name for r in results] == OFFLINE
    assert _failed(results) == {}, _failed(results)


def test_all_checks_pass_against_an_honest_chain() -> None:
    results = _run(_valid_bundle())
    assert [r.name for r in results] == OFFLINE + ONCHAIN
    assert _failed(results) == {}
    assert vr.summary_line(results) == "verified: all 14 checks passed"


def test_document_values_agree_with_the_verifier_helpers() -> None:
    ex = worked_example()
    want = ex["expected"]
    assert vr.canonical_json(ex["deltas"][0]["metadata"]) == want["canonicalMetadata0"]
    assert vr.hx(keccak(text=vr.DELTA_TYPE)) == want["deltaTypeHash"]
    domain = vr.domain_separator(ex["domain"]["chainId"], _b(ex["domain"]["verifyingContract"]))
    assert vr.hx(domain) == want["domainSeparator"]
    assert vr.hx(vr.leaf_hash(8, _b(want["fingerprint1"]))) == want["leaf8"]
    assert vr.hx(vr.batch_commitment(_b(want["root"]), 2)) == want["batchCommitment"]
    assert vr.type_string("Delta", _doc_type("Delta")) == vr.DELTA_TYPE
    assert len(vr.DELTA_FIELDS) == 11
    assert [f["name"] for f in vr.DELTA_FIELDS][7:9] == ["prevFingerprint", "corrects"]
    message = vr.parse_bundle(_valid_bundle()).message
    assert message is not None and message.corrects == bytes(32)
    struct_hash = keccak(vr.DELTA_TYPE_HASH + b"".join(_struct_words(ex, 0)))
    assert vr.hx(struct_hash) == want["structHash0"]


def _struct_words(ex: dict[str, Any], i: int) -> list[bytes]:
    """hashStruct's words for delta ``i`` of the worked example, in section 1's order."""
    d = ex["deltas"][i]
    text = ex["expected"]["canonicalMetadata0"] if d["metadata"] is not None else None
    return [
        keccak(text=d["tenant"]),
        keccak(text=d["customerId"]),
        int(d["delta"]).to_bytes(32, "big", signed=True),
        keccak(text=d["reason"]),
        keccak(text=d["referenceId"]),
        keccak(text=text) if text is not None else bytes(32),
        int(d["customerIndex"]).to_bytes(32, "big"),
        _b(d["prevFingerprint"]),
        _b(d["corrects"]),
        int(d["recordedAt"]).to_bytes(32, "big"),
        _b(d["salt"]),
    ]


def test_manual_digest_reproduces_both_worked_example_fingerprints() -> None:
    ex = worked_example()
    want = ex["expected"]
    domain = vr.domain_separator(ex["domain"]["chainId"], _b(ex["domain"]["verifyingContract"]))
    for i in (0, 1):
        digest = keccak(b"\x19\x01" + domain + keccak(vr.DELTA_TYPE_HASH + b"".join(_struct_words(ex, i))))
        assert vr.hx(digest) == want[f"fingerprint{i}"]
    # delta 1 corrects delta 0, and links to it
    assert ex["deltas"][1]["corrects"] == ex["deltas"][1]["prevFingerprint"] == want["fingerprint0"]


def test_second_delta_without_metadata_verifies_offline() -> None:
    ex = worked_example()
    want = ex["expected"]
    d = ex["deltas"][1]
    bundle = _valid_bundle()
    msg = bundle["typedData"]["message"]
    for key in ("delta", "reason", "referenceId", "customerIndex", "prevFingerprint", "corrects"):
        msg[key] = d[key]
    msg["recordedAt"], msg["salt"] = d["recordedAt"], d["salt"]
    msg["metadataHash"] = "0x" + "00" * 32
    bundle.update(
        metadata=None,
        fingerprint=want["fingerprint1"],
        logIndex=8,
        leaf=want["leaf8"],
        proof=[want["leaf7"]],
    )
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    # No signature for delta 1 in the document, so only the signature check may fail.
    assert set(failed) == {"signature"}, failed


# --- single-field mutations ------------------------------------------------------------------

MUTATIONS: list[tuple[str, Any, str]] = [
    ("typedData.message.delta", "-1001", "fingerprint"),
    ("typedData.message.customerId", "cust_12346", "fingerprint"),
    ("typedData.message.salt", "0x" + "33" * 32, "fingerprint"),
    ("typedData.message.prevFingerprint", "0x" + "01" * 32, "fingerprint"),
    ("typedData.message.customerIndex", "1", "fingerprint"),
    ("typedData.message.tenant", "other", "fingerprint"),
    ("typedData.message.recordedAt", "1770733922", "fingerprint"),
    ("typedData.message.corrects", "0x" + "01" * 32, "fingerprint"),
    ("typedData.message.corrects", worked_example()["expected"]["fingerprint1"], "fingerprint"),
    ("typedData.message.corrects", "0x" + "AB" * 32, "format"),
    ("typedData.message.corrects", "0x" + "00" * 31, "format"),
    ("typedData.message.corrects", None, "format"),
    ("typedData.message.corrects", "", "format"),
    ("typedData.message.delta", -1000, "format"),
    ("typedData.message.delta", "9" * 5000, "format"),  # beyond int256 (and int()'s 4300-digit limit)
    ("fingerprint", worked_example()["expected"]["fingerprint1"], "fingerprint"),
    ("fingerprint", worked_example()["expected"]["fingerprint0"].upper().replace("0X", "0x"), "format"),
    ("signature", "0xfd" + worked_example()["expected"]["signature0"][4:], "signature"),
    ("signature", worked_example()["expected"]["signature0"][:-2] + "1d", "signature"),
    ("signature", worked_example()["expected"]["signature0"][:-2], "format"),
    ("signer", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "signature"),
    ("logIndex", 8, "leaf"),
    ("logIndex", 8, "proof"),
    ("leaf", worked_example()["expected"]["leaf8"], "leaf"),
    ("proof.0", worked_example()["expected"]["leaf7"], "proof"),
    ("batch.root", OTHER, "proof"),
    ("batch.root", OTHER, "commitment"),
    ("batch.count", 3, "commitment"),
    ("batch.count", 1, "proof"),
    ("batch.count", 0, "range"),
    ("batch.startIndex", 8, "range"),
    ("batch.id", 1, "transaction"),
    ("batch.txHash", OTHER, "transaction"),
    ("batch.blockNumber", 2, "block"),
    ("batch.blockHash", OTHER, "block"),
    ("typedData.domain.chainId", 1, "domain"),
    ("typedData.domain.chainId", 1, "fingerprint"),
    ("typedData.domain.verifyingContract", "0x" + "11" * 20, "domain"),
    ("typedData.domain.name", "Other", "domain"),
    ("typedData.primaryType", "EIP712Domain", "domain"),
    ("chainId", 1, "domain"),
    ("chainId", 1, "chain_id"),
    ("contract", "0x" + "11" * 20, "domain"),
    ("metadata", '{"plan":"pro","units":1001}', "metadata"),
    ("metadata", None, "metadata"),
    ("version", "pacspace.proof.v9", "format"),
]


@pytest.mark.parametrize(
    ("path", "value", "check"),
    MUTATIONS,
    ids=[f"{p}={str(v)[:12]}->{c}" for p, v, c in MUTATIONS],
)
def test_single_field_mutation_fails_a_named_check(path: str, value: Any, check: str) -> None:
    bundle = _valid_bundle()
    _set(bundle, path, value)
    failed = _failed(_run(bundle))
    assert check in failed, f"{path}={value!r} should fail {check}; failed: {failed}"
    assert failed[check], "a failing check explains itself"


def test_types_must_be_exactly_the_protocols() -> None:
    bundle = _valid_bundle()
    bundle["typedData"]["types"]["Delta"][2]["type"] = "int128"
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "domain" in failed


def test_the_ten_field_delta_type_of_before_corrects_is_refused() -> None:
    bundle = _valid_bundle()
    bundle["typedData"]["types"]["Delta"] = [f for f in _doc_type("Delta") if f["name"] != "corrects"]
    del bundle["typedData"]["message"]["corrects"]
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "typedData.message.corrects: missing" in failed["format"]
    assert "types.Delta is not" in failed["domain"]


def test_a_missing_corrects_is_a_format_failure() -> None:
    bundle = _valid_bundle()
    del bundle["typedData"]["message"]["corrects"]
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "typedData.message.corrects: missing" in failed["format"]


def test_uppercase_corrects_is_named_in_format() -> None:
    bundle = _valid_bundle()
    bundle["typedData"]["message"]["corrects"] = "0x" + "AB" * 32
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "typedData.message.corrects: must be lowercase hex" in failed["format"]


def test_fast_mode_agrees_with_eth_account_on_the_workedworked_example() -> None:
    parsed = vr.parse_bundle(_valid_bundle())
    assert _failed(vr.run_offline_checks(parsed, fast=True)) == {}
    assert parsed.fingerprint is not None and parsed.signature is not None
    assert vr.recover_signer(parsed.fingerprint, parsed.signature, fast=True) == vr.recover_signer(
        parsed.fingerprint, parsed.signature, fast=False
    )
    bundle = _valid_bundle()
    bundle["typedData"]["message"]["corrects"] = "0x" + "01" * 32
    assert "fingerprint" in _failed(vr.run_offline_checks(vr.parse_bundle(bundle), fast=True))


def test_metadata_must_be_canonical_even_when_its_hash_matches() -> None:
    bundle = _valid_bundle()
    text = '{"units":1000,"plan":"pro"}'
    bundle["metadata"] = text
    bundle["typedData"]["message"]["metadataHash"] = vr.hx(keccak(text.encode()))
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "not canonical" in failed["metadata"]


@pytest.mark.parametrize(
    "text",
    ['{"a":1.5}', '{"a":1,"a":2}', '{"a":9007199254740992}', "[1]", '{"a":NaN}', '{ "a":1}'],
)
def test_non_canonical_metadata_is_refused(text: str) -> None:
    bundle = _valid_bundle()
    bundle["metadata"] = text
    bundle["typedData"]["message"]["metadataHash"] = vr.hx(keccak(text.encode()))
    assert "metadata" in _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))


def test_canonical_json_escapes_as_documented() -> None:
    value = {"é": 'a"\\\b\t\n\f\r\x01\x7f/ü', "b": [True, False, None, -3], "\U0001f600": 1, "ｚ": 2}
    # UTF-16 order: "b" (0x62) < "é" (0xe9) < the emoji (surrogate 0xd83d) < "ｚ" (0xff5a).
    expected = '{"b":[true,false,null,-3],"é":"a\\"\\\\\\b\\t\\n\\f\\r\\u0001\x7f/ü","\U0001f600":1,"ｚ":2}'
    assert vr.canonical_json(value) == expected


def test_a_malformed_field_skips_dependent_checks_with_a_reason() -> None:
    bundle = _valid_bundle()
    del bundle["signer"]
    failed = _failed(vr.run_offline_checks(vr.parse_bundle(bundle)))
    assert "signer: missing" in failed["format"]
    assert failed["signature"].startswith("skipped: signer")
    assert set(failed) == {"format", "signature"}


def test_not_an_object_fails_every_check() -> None:
    results = _run([1, 2])
    assert len(_failed(results)) == 14


# --- on-chain checks against fake chains -----------------------------------------------------


def _chain_failures(chain: FakeChain, **kw: Any) -> dict[str, str]:
    return _failed(_run(_valid_bundle(), chain, **kw))


def test_wrong_chain() -> None:
    assert set(_chain_failures(FakeChain(chain=1))) == {"chain_id"}


def test_signer_not_anchorer() -> None:
    assert set(_chain_failures(FakeChain(anchorers=set()))) == {"anchorer"}


def test_batch_not_anchored() -> None:
    failed = _chain_failures(FakeChain(commitments={8: b"\x01" * 32}))
    assert "no batch starts at log index 7" in failed["commitment"]


def test_reorganised_block() -> None:
    failed = _chain_failures(FakeChain(blocks={1: _b(OTHER)}))
    assert set(failed) == {"block"}


def test_too_few_confirmations() -> None:
    failed = _chain_failures(FakeChain(head_number=3), required=5)
    assert set(failed) == {"confirmations"}
    assert "3 confirmation(s)" in failed["confirmations"]
    assert _chain_failures(FakeChain(head_number=5), required=5) == {}


def test_reverted_or_foreign_transaction() -> None:
    assert "status is 0" in _chain_failures(FakeChain(receipt_status=0))["transaction"]
    assert "no BatchAnchored(id 0" in _chain_failures(FakeChain(event_batch_id=4))["transaction"]


def test_no_contract_code() -> None:
    failed = _chain_failures(FakeChain(contract=b"\x22" * 20))
    assert "no contract code" in failed["anchorer"]
    assert "no contract code" in failed["commitment"]


def test_pinned_contract_must_match_the_bundle() -> None:
    failed = _chain_failures(FakeChain(), pinned=b"\x22" * 20)
    assert "pinned" in failed["domain"]
    assert "no contract code at 0x2222" in failed["anchorer"]


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def bundle_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_valid_bundle()))
    yield path


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    proc = _cli(str(tmp_path / "nope.json"), "--rpc", "http://127.0.0.1:9")
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def test_cli_not_json_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert _cli(str(path), "--rpc", "http://127.0.0.1:9").returncode == 2


def test_cli_unreachable_rpc_exits_2_with_one_line(bundle_file: Path) -> None:
    """Nothing answers at the RPC: no report (the chain facts cannot be had), one line, status 2."""
    proc = _cli(str(bundle_file), "--rpc", "http://127.0.0.1:9", "--explorer", "https://scan.example/")
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == ["error: RPC unreachable at http://127.0.0.1:9 (URLError)"]
    as_json = _cli("-", "--rpc", "http://127.0.0.1:9", "--json", stdin=json.dumps(_valid_bundle()))
    assert (as_json.returncode, as_json.stdout) == (2, ""), as_json.stdout
    assert "RPC unreachable at http://127.0.0.1:9" in as_json.stderr


@pytest.mark.parametrize("raw", [[1, 2], "a string", {"hello": "world"}])
def test_cli_json_that_is_no_bundle_exits_2(tmp_path: Path, raw: object) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(raw))
    proc = _cli(str(path), "--rpc", "http://127.0.0.1:9", "--json")
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stdout
    assert len(proc.stderr.splitlines()) == 1 and "is not a proof bundle" in proc.stderr


def test_cli_lines_and_explorer_links(
    bundle_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: FakeChain())
    assert vr.main([str(bundle_file), "--explorer", "https://scan.example/"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in OFFLINE + ONCHAIN:
        assert any(line.startswith(f"✓ {name}: ") for line in lines), lines
    assert f"transaction: https://scan.example/tx/{TX_HASH}" in lines
    assert "contract: https://scan.example/address/0x5fbdb2315678afecb367f032d93f642f64180aa3" in lines
    assert any("taken from the bundle" in line for line in lines)
    assert lines[-1] == "verified: all 14 checks passed"


def test_cli_json_report_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: FakeChain(head_number=0))
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(_valid_bundle())))
    assert vr.main(["-", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == OFFLINE + ONCHAIN
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["confirmations"]
