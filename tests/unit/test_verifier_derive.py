"""scripts/verify_receipt.py `derive` and `checkpoint` modes, without a chain.

Exports are generated here from docs/PROTOCOL.md's rules only (never from the node): deltas
signed with Anvil's account 1 key, batches built as OpenZeppelin StandardMerkleTrees and
"anchored" on an in-memory fake chain that answers as the contract would and counts its calls.
The checkpoint tests start from the document's worked example and its proofToken.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey
from eth_abi.abi import decode, encode
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from tests.support import load_verifier, worked_example

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PROTOCOL.md"
SCRIPT = ROOT / "scripts" / "verify_receipt.py"
ZERO = "0x" + "00" * 32
CHECKPOINT_CHECKS = [
    "token",
    "signature",
    "anchorer",
    "countersignature",
    "export",
    "range",
    "opening",
    "net",
    "closing",
    "root",
    "head",
]
TOKEN_TYPES = [
    "string",
    "string",
    "uint64",
    "uint64",
    "uint64",
    "int256",
    "int256",
    "int256",
    "bytes32",
    "bytes32",
    "uint64",
    "uint256",
    "address",
    "bytes",
    "bytes",
]
# Anvil's account 2 (the worked example's countersigner): a key that is no anchorer.
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


vr = load_verifier()


EX = worked_example()
WANT = EX["expected"]
CHAIN_ID: int = EX["domain"]["chainId"]
CONTRACT: str = EX["domain"]["verifyingContract"]
ANCHORER_KEY: str = EX["signerPrivateKey"]


def _doc_type(name: str) -> list[dict[str, str]]:
    """A struct type as a typed-data field list, parsed from the document's type string."""
    match = re.search(rf"^{name}\(([^)]*)\)", DOC.read_text(), re.M)
    assert match, f"{name}(...) type string missing from docs/PROTOCOL.md"
    fields = [part.split(" ") for part in match.group(1).split(",")]
    return [{"name": n, "type": t} for t, n in fields]


def _b(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr[2:])


def _hx(data: bytes) -> str:
    return "0x" + data.hex()


def _address(key: str) -> bytes:
    public = PrivateKey(_b(key)).public_key.format(compressed=False)[1:]
    return keccak(public)[12:]


def _sign(digest: bytes, key: str) -> str:
    """secp256k1 over the digest itself, r ‖ s ‖ v with v in {27, 28} (RFC 6979, low s)."""
    sig = PrivateKey(_b(key)).sign_recoverable(digest, hasher=None)
    return _hx(sig[:64] + bytes([sig[64] + 27]))


def _domain() -> dict[str, Any]:
    return {"name": "PacSpace", "version": "1", "chainId": CHAIN_ID, "verifyingContract": CONTRACT}


def _digest(primary: str, message: dict[str, Any]) -> bytes:
    """EIP-712 digest through eth-account, from the document's type strings."""
    typed = {
        "types": {"EIP712Domain": _doc_type("EIP712Domain"), primary: _doc_type(primary)},
        "primaryType": primary,
        "domain": _domain(),
        "message": message,
    }
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


_DELTA_TYPE_HASH = keccak(text=re.search(r"^Delta\([^)]*\)", DOC.read_text(), re.M).group(0))  # type: ignore[union-attr]
_DOMAIN_SEPARATOR = keccak(
    keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    + keccak(text="PacSpace")
    + keccak(text="1")
    + CHAIN_ID.to_bytes(32, "big")
    + bytes(12)
    + _b(CONTRACT)
)


def _fast_delta_digest(m: dict[str, Any]) -> bytes:
    """Section 1's hashStruct by hand (used to generate big exports quickly)."""
    struct_hash = keccak(
        _DELTA_TYPE_HASH
        + keccak(text=m["tenant"])
        + keccak(text=m["customerId"])
        + int(m["delta"]).to_bytes(32, "big", signed=True)
        + keccak(text=m["reason"])
        + keccak(text=m["referenceId"])
        + _b(m["metadataHash"])
        + int(m["customerIndex"]).to_bytes(32, "big")
        + _b(m["prevFingerprint"])
        + _b(m["corrects"])
        + int(m["recordedAt"]).to_bytes(32, "big")
        + _b(m["salt"])
    )
    return keccak(b"\x19\x01" + _DOMAIN_SEPARATOR + struct_hash)


def _leaf(index: int, fingerprint: bytes) -> bytes:
    return keccak(keccak(encode(["uint256", "bytes32"], [index, fingerprint])))


def _tree(values: list[tuple[int, bytes]]) -> tuple[bytes, dict[int, list[bytes]]]:
    """@openzeppelin/merkle-tree StandardMerkleTree: root and the proof of each value's index."""
    hashed = sorted((_leaf(i, fp), i) for i, fp in values)
    n = len(hashed)
    tree = [b""] * (2 * n - 1)
    position: dict[int, int] = {}
    for k, (leaf, i) in enumerate(hashed):
        tree[2 * n - 2 - k] = leaf
        position[i] = 2 * n - 2 - k
    for j in range(n - 2, -1, -1):
        a, b = tree[2 * j + 1], tree[2 * j + 2]
        tree[j] = keccak(min(a, b) + max(a, b))
    proofs: dict[int, list[bytes]] = {}
    for i, at in position.items():
        proof, node = [], at
        while node > 0:
            proof.append(tree[node + 1] if node % 2 == 1 else tree[node - 1])
            node = (node - 1) // 2
        proofs[i] = proof
    return tree[0], proofs


# --- the fake chain --------------------------------------------------------------------------


@dataclass
class FakeChain:
    """An honest chain holding the anchored batches; counts every question it is asked."""

    url: str = "fake://chain"
    chain: int = CHAIN_ID
    contract: bytes = field(default_factory=lambda: _b(CONTRACT))
    anchorers: set[bytes] = field(default_factory=lambda: {_address(ANCHORER_KEY)})
    commitments: dict[int, bytes] = field(default_factory=dict)
    receipts: dict[bytes, Any] = field(default_factory=dict)
    blocks: dict[int, bytes] = field(default_factory=dict)
    head_number: int = 0
    calls: Counter[str] = field(default_factory=Counter)

    def anchor(self, batch_id: int, start: int, count: int, root: bytes) -> dict[str, Any]:
        """Record a batch as `anchor(start, count, root)` would, in its own block; its bundle fields."""
        block = 10 + batch_id
        tx_hash = keccak(b"tx" + batch_id.to_bytes(8, "big"))
        block_hash = keccak(b"block" + block.to_bytes(8, "big"))
        self.commitments[start] = keccak(root + count.to_bytes(32, "big"))
        self.blocks[block] = block_hash
        self.head_number = max(self.head_number, block + 5)
        log = vr.LogEntry(
            address=self.contract,
            topics=[
                keccak(text="BatchAnchored(uint64,bytes32,uint64,uint32,address)"),
                batch_id.to_bytes(32, "big"),
                root,
                bytes(12) + _address(ANCHORER_KEY),
            ],
            data=start.to_bytes(32, "big") + count.to_bytes(32, "big"),
        )
        self.receipts[tx_hash] = vr.TxReceipt(
            status=1, to=self.contract, block_number=block, block_hash=block_hash, logs=[log]
        )
        return {
            "id": batch_id,
            "root": _hx(root),
            "startIndex": start,
            "count": count,
            "txHash": _hx(tx_hash),
            "blockNumber": block,
            "blockHash": _hx(block_hash),
        }

    def chain_id(self) -> int:
        self.calls["chain_id"] += 1
        return self.chain

    def code_size(self, contract: bytes) -> int:
        self.calls["code_size"] += 1
        return 1000 if contract == self.contract else 0

    def is_anchorer(self, contract: bytes, account: bytes) -> bool:
        self.calls["is_anchorer"] += 1
        return contract == self.contract and account in self.anchorers

    def batch_commitment(self, contract: bytes, start_index: int) -> bytes:
        self.calls["batch_commitment"] += 1
        return self.commitments.get(start_index, bytes(32)) if contract == self.contract else bytes(32)

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
        self.calls["verify"] += 1
        stored = self.commitments.get(start_index, bytes(32))
        if contract != self.contract or stored == bytes(32) or stored != keccak(root + count.to_bytes(32, "big")):
            return False
        if not start_index <= log_index < start_index + count:
            return False
        node = _leaf(log_index, fingerprint)
        for sibling in proof:
            node = keccak(min(node, sibling) + max(node, sibling))
        return node == root

    def transaction_receipt(self, tx_hash: bytes) -> Any:
        self.calls["transaction_receipt"] += 1
        return self.receipts.get(tx_hash)

    def block_hash(self, number: int) -> bytes | None:
        self.calls["block_hash"] += 1
        return self.blocks.get(number)

    def head(self) -> int:
        self.calls["head"] += 1
        return self.head_number


# --- building exports ------------------------------------------------------------------------


@dataclass
class Entry:
    message: dict[str, Any]
    metadata: str | None
    fingerprint: bytes
    signature: str


Tweak = Callable[[int, dict[str, Any]], None]


def _amount(i: int) -> int:
    if i == 3:
        return 10**40  # beyond a double and int64: the balance is exact
    value = (i * 7919) % 2001 - 1000
    return value or 1


def make_entries(
    n: int,
    corrections: dict[int, int] | None = None,
    tweak: Tweak | None = None,
    fast: bool = False,
    key: str = ANCHORER_KEY,
) -> list[Entry]:
    """``n`` linked deltas of one customer; ``corrections[i] = j``: delta i corrects delta j."""
    corrections = corrections or {}
    entries: list[Entry] = []
    prev = ZERO
    for i in range(n):
        metadata = None
        if i % 5 == 1:
            metadata = json.dumps({"plan": "pro", "units": i}, sort_keys=True, separators=(",", ":"))
        message = {
            "tenant": "default",
            "customerId": "cust_derive",
            "delta": str(_amount(i)),
            "reason": f"usage {i}" if i not in corrections else f"correction of {corrections[i]}",
            "referenceId": f"ref_{i}",
            "metadataHash": _hx(keccak(text=metadata)) if metadata else ZERO,
            "customerIndex": str(i),
            "prevFingerprint": prev,
            "corrects": _hx(entries[corrections[i]].fingerprint) if i in corrections else ZERO,
            "recordedAt": str(1770000000 + i),
            "salt": _hx(keccak(b"salt" + i.to_bytes(8, "big"))),
        }
        if tweak is not None:
            tweak(i, message)
        digest = _fast_delta_digest(message) if fast else _digest("Delta", message)
        entries.append(Entry(message, metadata, digest, _sign(digest, key)))
        prev = _hx(digest)
    return entries


def anchor_entries(
    entries: list[Entry],
    chain: FakeChain,
    batch_size: int = 10,
    start: int = 100,
    filler: int = 2,
    first_batch_id: int = 5,
) -> list[dict[str, Any]]:
    """Bundles for the entries, ``batch_size`` per batch plus ``filler`` other customers' leaves."""
    bundles: list[dict[str, Any]] = []
    for k in range(0, len(entries), batch_size):
        chunk = entries[k : k + batch_size]
        values = [(start + j, e.fingerprint) for j, e in enumerate(chunk)]
        values += [(start + len(chunk) + f, keccak(b"other" + (k + f).to_bytes(8, "big"))) for f in range(filler)]
        root, proofs = _tree(values)
        batch = chain.anchor(first_batch_id + k // batch_size, start, len(values), root)
        for j, e in enumerate(chunk):
            log_index = start + j
            bundles.append(
                {
                    "version": "pacspace.proof.v1",
                    "receiptId": f"rcpt_{e.message['customerIndex']}",
                    "chainId": CHAIN_ID,
                    "contract": CONTRACT,
                    "typedData": {
                        "types": {"EIP712Domain": _doc_type("EIP712Domain"), "Delta": _doc_type("Delta")},
                        "primaryType": "Delta",
                        "domain": _domain(),
                        "message": dict(e.message),
                    },
                    "metadata": e.metadata,
                    "fingerprint": _hx(e.fingerprint),
                    "signature": e.signature,
                    "signer": _hx(_address(ANCHORER_KEY)),
                    "logIndex": log_index,
                    "leaf": _hx(_leaf(log_index, e.fingerprint)),
                    "proof": [_hx(p) for p in proofs[log_index]],
                    "batch": dict(batch),
                }
            )
        start += len(values)
    return bundles


def make_export(n: int = 30, **kw: Any) -> tuple[list[dict[str, Any]], FakeChain, list[Entry]]:
    """30 deltas in 3 batches by default; delta 20 corrects delta 4."""
    chain = FakeChain()
    corrections = kw.pop("corrections", {20: 4})
    entries = make_entries(n, corrections=corrections, tweak=kw.pop("tweak", None), fast=kw.pop("fast", False))
    return anchor_entries(entries, chain, **kw), chain, entries


def write_export(path: Path, bundles: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in bundles))
    return path


def _check(tmp_path: Path, bundles: list[dict[str, Any]], chain: FakeChain, pinned: bytes | None = None) -> Any:
    checker = vr.ExportChecker(chain, pinned, 1)
    vr.scan_export(str(write_export(tmp_path / "export.jsonl", bundles)), checker)
    return checker


def _failures(checker: Any) -> set[tuple[int | None, str]]:
    return {(f.customer_index, f.check) for f in checker.failures}


def _entries_balance(entries: list[Entry]) -> int:
    return sum(int(e.message["delta"]) for e in entries)


# --- derive: a valid export ------------------------------------------------------------------


def test_generator_follows_the_document() -> None:
    """The helpers reproduce the worked example, so the generated exports follow the protocol."""
    entries = _worked_example_entries()
    assert [_hx(e.fingerprint) for e in entries] == [WANT["fingerprint0"], WANT["fingerprint1"]]
    assert entries[0].signature == WANT["signature0"]
    assert _fast_delta_digest(entries[1].message) == entries[1].fingerprint
    root, proofs = _tree([(7, entries[0].fingerprint), (8, entries[1].fingerprint)])
    assert _hx(root) == WANT["root"]
    assert [_hx(p) for p in proofs[7]] == WANT["proof7"]


def test_a_valid_export_derives_the_balance(tmp_path: Path) -> None:
    bundles, chain, entries = make_export()
    assert bundles[20]["typedData"]["message"]["corrects"] == bundles[4]["fingerprint"]
    checker = _check(tmp_path, bundles, chain)
    assert checker.failures == []
    assert checker.ok
    assert checker.count == 30
    assert checker.balance == _entries_balance(entries) > 10**40 - 30_000
    assert checker.head_index == 29
    assert checker.head_fingerprint == entries[29].fingerprint
    assert checker.summary() == f"derived: balance {_entries_balance(entries)} over 30 verified deltas"


def test_chain_facts_are_fetched_once_per_batch(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    assert _check(tmp_path, bundles, chain).ok
    assert chain.calls == Counter(
        chain_id=1,
        code_size=1,
        is_anchorer=1,
        head=1,
        batch_commitment=3,
        transaction_receipt=3,
        block_hash=3,
        verify=3,  # the contract checks the first proof of each batch; the rest fold locally
    )


def test_derive_cli_text_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    bundles, chain, entries = make_export()
    path = write_export(tmp_path / "export.jsonl", bundles)
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["derive", str(path), "--rpc", "fake://chain"]) == 0
    out = capsys.readouterr().out.splitlines()
    balance = _entries_balance(entries)
    assert "bundles: 30" in out
    assert f"balance: {balance}" in out
    assert f"head: customerIndex 29, fingerprint {_hx(entries[29].fingerprint)}" in out
    assert "customer: default/cust_derive on chain 31337" in out
    assert out[-1] == f"derived: balance {balance} over 30 verified deltas"

    assert vr.main(["derive", str(path), "--rpc", "fake://chain", "--json", "--contract", CONTRACT]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["count"] == 30
    assert report["balance"] == str(balance)
    assert report["headIndex"] == 29
    assert report["headFingerprint"] == _hx(entries[29].fingerprint)
    assert report["failures"] == []
    assert report["contractPinned"] is True


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


_BAR = re.compile(r"\[([#.]{24})\] +([0-9]+)% checked ([0-9,]+) bundles \([0-9,]+/s\) *")


def test_progress_is_a_bar_redrawn_on_a_terminal_and_nothing_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    bundles, chain, _ = make_export()
    path = write_export(tmp_path / "export.jsonl", bundles)
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["derive", str(path), "--json"]) == 0
    assert capsys.readouterr().err == ""  # stderr is no terminal here: nothing drawn
    monkeypatch.setattr(vr, "REDRAW_SECONDS", 0.0)  # redraw after every bundle
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert vr.main(["derive", str(path), "--json"]) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\r") and drawn.endswith("\n") and drawn.count("\n") == 1
    frames = [_BAR.fullmatch(frame) for frame in drawn.rstrip("\n").split("\r")[1:]]
    assert all(frames), drawn
    counts = [int(m.group(3)) for m in frames if m]
    assert counts == sorted(counts) and len(counts) >= 30 and counts[-1] == 30
    last = frames[-1]
    assert last is not None and last.group(1) == "#" * 24 and last.group(2) == "100"
    terminal.seek(0)
    terminal.truncate()
    assert vr.main(["derive", str(path), "--quiet"]) == 0
    assert terminal.getvalue() == ""


def test_the_bar_of_a_pipe_has_no_fraction_and_redraws_at_most_every_interval() -> None:
    now = [0.0]
    terminal = _Terminal()
    bar = vr.ProgressBar(terminal, None, clock=lambda: now[0], every=2.5)
    for count in range(1, 101):
        now[0] = count * 0.125  # 8 bundles a second
        bar.update(count)
    bar.finish(100)
    frames = terminal.getvalue().rstrip("\n").split("\r")[1:]
    assert frames[0] == "checked 20 bundles (8/s)"
    assert frames[-1] == "checked 100 bundles (8/s)"
    assert len(frames) == 5 + 1  # at 2.5 s, 5 s, ... 12.5 s, and the final one
    assert vr.ProgressBar.on(io.StringIO()) is None and vr.ProgressBar.on(None) is None


# --- derive: each failure is named -----------------------------------------------------------


def test_a_dropped_line_is_a_gap_naming_the_missing_index(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    del bundles[10]
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(11, "gap")}
    assert checker.failures[0].detail.startswith("customerIndex 10 is missing")
    assert checker.failures[0].receipt_id == "rcpt_11"
    assert checker.summary() == "NOT DERIVED: 1 failure(s) in 1 of 29 bundle(s) (gap ×1)"


def test_an_export_not_starting_at_zero_fails(tmp_path: Path) -> None:
    bundles, chain, _ = make_export(corrections={})
    checker = _check(tmp_path, bundles[3:], chain)
    assert _failures(checker) == {(3, "gap")}
    assert "customerIndexes 0..2 are missing (3), first missing 0" in checker.failures[0].detail
    assert "must start at customerIndex 0" in checker.failures[0].detail


def test_a_wrong_prev_fingerprint_breaks_only_the_link(tmp_path: Path) -> None:
    def tweak(i: int, message: dict[str, Any]) -> None:
        if i == 12:
            message["prevFingerprint"] = "0x" + "12" * 32

    bundles, chain, entries = make_export(tweak=tweak)  # re-signed and re-anchored: only the link is wrong
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(12, "link")}
    detail = checker.failures[0].detail
    assert f"expected the fingerprint of customerIndex 11, {_hx(entries[11].fingerprint)}" in detail


def test_index_zero_must_link_to_zero(tmp_path: Path) -> None:
    def tweak(i: int, message: dict[str, Any]) -> None:
        if i == 0:
            message["prevFingerprint"] = "0x" + "01" * 32

    bundles, chain, _ = make_export(n=3, tweak=tweak, corrections={})
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(0, "link")}
    assert "32 zero bytes" in checker.failures[0].detail


def test_a_tampered_amount_is_a_fingerprint_mismatch(tmp_path: Path) -> None:
    bundles, chain, entries = make_export()
    bundles[5]["typedData"]["message"]["delta"] = str(int(bundles[5]["typedData"]["message"]["delta"]) + 1)
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(5, "fingerprint")}
    assert checker.balance == _entries_balance(entries) + 1  # reported, but not "derived"
    assert not checker.ok


def test_a_bad_signature_is_named(tmp_path: Path) -> None:
    bundles, chain, entries = make_export()
    bundles[8]["signature"] = _sign(entries[8].fingerprint, OTHER_KEY)
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(8, "signature")}
    assert f"recovers to {_hx(_address(OTHER_KEY))}" in checker.failures[0].detail


def test_a_signer_that_is_no_anchorer_is_named(tmp_path: Path) -> None:
    bundles, chain, entries = make_export()
    bundles[8]["signature"] = _sign(entries[8].fingerprint, OTHER_KEY)
    bundles[8]["signer"] = _hx(_address(OTHER_KEY))
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(8, "anchorer")}
    assert chain.calls["is_anchorer"] == 2  # once per signer


@pytest.mark.parametrize("index", [10, 15])  # first of its batch (asked of the contract) and a later one
def test_a_failed_proof_is_named(tmp_path: Path, index: int) -> None:
    bundles, chain, _ = make_export()
    bundles[index]["proof"][0] = "0x" + "77" * 32
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(index, "proof"), (index, "commitment")}


def test_a_batch_missing_from_the_chain_fails_its_bundles(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    del chain.commitments[bundles[10]["batch"]["startIndex"]]
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(i, "commitment") for i in range(10, 20)}
    assert chain.calls["batch_commitment"] == 3


def test_corrects_must_name_an_earlier_delta(tmp_path: Path) -> None:
    def tweak(i: int, message: dict[str, Any]) -> None:
        if i == 9:
            message["corrects"] = "0x" + "99" * 32

    bundles, chain, _ = make_export(tweak=tweak)
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(9, "corrects")}
    assert f"corrects 0x{'99' * 32} is not the fingerprint of an earlier delta" in checker.failures[0].detail


def test_corrects_cannot_name_a_later_delta(tmp_path: Path) -> None:
    # A consistent export cannot do it (a later fingerprint depends on this one), so edit the line:
    # its fingerprint fails as well, but `corrects` is named on its own.
    bundles, chain, _ = make_export(corrections={})
    bundles[2]["typedData"]["message"]["corrects"] = bundles[25]["fingerprint"]
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(2, "corrects"), (2, "fingerprint")}


def test_mixed_customers_are_named(tmp_path: Path) -> None:
    def tweak(i: int, message: dict[str, Any]) -> None:
        if i == 7:
            message["customerId"] = "cust_other"

    bundles, chain, _ = make_export(tweak=tweak)
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(7, "customer")}
    assert '"cust_other"' in checker.failures[0].detail and '"cust_derive"' in checker.failures[0].detail


def test_a_bundle_of_another_deployment_is_named(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    other = "0x" + "11" * 20
    bundles[4]["contract"] = other
    bundles[4]["typedData"]["domain"]["verifyingContract"] = other
    checker = _check(tmp_path, bundles, chain)
    assert (4, "deployment") in _failures(checker)
    assert {index for index, _ in _failures(checker)} == {4}


def test_a_repeated_line_is_an_order_failure(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    bundles.insert(6, bundles[5])
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(5, "order")}
    assert checker.failures[0].line == 7
    assert checker.head_index == 29


def test_a_line_that_is_not_a_bundle(tmp_path: Path) -> None:
    bundles, chain, _ = make_export()
    path = write_export(tmp_path / "export.jsonl", bundles)
    lines = path.read_text().splitlines()
    lines[4] = "{not json"
    path.write_text("\n".join(lines) + "\n\n")
    checker = vr.ExportChecker(chain, None, 1)
    vr.scan_export(str(path), checker)
    # Delta 20 corrects delta 4, which the export no longer holds.
    assert _failures(checker) == {(None, "format"), (5, "gap"), (20, "corrects")}
    assert checker.failures[0].line == 5
    assert "customerIndex 4 is missing" in next(f.detail for f in checker.failures if f.check == "gap")


def test_on_chain_failures_repeat_per_bundle_but_are_fetched_once(tmp_path: Path) -> None:
    bundles, chain, _ = make_export(n=12, corrections={})
    chain.chain = 1
    checker = _check(tmp_path, bundles, chain)
    assert _failures(checker) == {(i, "chain_id") for i in range(12)}
    assert chain.calls["chain_id"] == 1


def test_failure_lines_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    bundles, chain, _ = make_export()
    chain.chain = 1
    path = write_export(tmp_path / "export.jsonl", bundles)
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    monkeypatch.setattr(vr, "PRINTED_FAILURES", 5)
    assert vr.main(["derive", str(path), "--quiet"]) == 1
    out = capsys.readouterr().out.splitlines()
    failures = [line for line in out if line.startswith("✗ ")]
    assert len(failures) == 5
    assert failures[0].startswith("✗ customerIndex 0 (rcpt_0), line 1: chain_id: RPC chain id is 1")
    assert "… and 25 more failure(s)" in out
    assert out[-1] == "NOT DERIVED: 30 failure(s) in 30 of 30 bundle(s) (chain_id ×30)"
    monkeypatch.setattr(vr, "KEPT_FAILURES", 4)
    assert vr.main(["derive", str(path), "--quiet", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert len(report["failures"]) == 4
    assert report["failureCount"] == 30 and report["failuresOmitted"] == 26
    assert report["failures"][0] == {
        "customerIndex": 0,
        "receiptId": "rcpt_0",
        "check": "chain_id",
        "detail": "RPC chain id is 1, bundle chainId is 31337",
        "line": 1,
    }


def test_pinned_contract_applies_to_every_bundle(tmp_path: Path) -> None:
    bundles, chain, _ = make_export(n=3, corrections={})
    checker = _check(tmp_path, bundles, chain, pinned=b"\x22" * 20)
    assert {check for _, check in _failures(checker)} >= {"domain", "anchorer", "commitment"}


def test_derive_unusable_input_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: FakeChain())
    assert vr.main(["derive", str(tmp_path / "missing.jsonl")]) == 2
    (tmp_path / "empty.jsonl").write_text("\n")
    assert vr.main(["derive", str(tmp_path / "empty.jsonl")]) == 2
    (tmp_path / "pretty.json").write_text(json.dumps({"version": "pacspace.proof.v1"}, indent=2))
    assert vr.main(["derive", str(tmp_path / "pretty.json")]) == 2
    (tmp_path / "other.jsonl").write_text('{"hello": "world"}\n')
    assert vr.main(["derive", str(tmp_path / "other.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "holds no bundle" in err and "expected JSON Lines" in err
    assert "line 1 is not a proof bundle" in err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_derive_against_an_unreachable_rpc(tmp_path: Path) -> None:
    bundles, _, _ = make_export(n=12, corrections={})
    path = write_export(tmp_path / "export.jsonl", bundles)
    proc = _cli("derive", str(path), "--rpc", "http://127.0.0.1:9", "--json", "--quiet")
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stdout
    assert proc.stderr.splitlines() == ["error: RPC unreachable at http://127.0.0.1:9 (URLError)"]
    token = _cli("checkpoint", WANT["proofToken"], "--export", str(path), "--rpc", "http://127.0.0.1:9", "--json")
    assert (token.returncode, token.stdout) == (2, ""), token.stdout
    assert "RPC unreachable" in token.stderr


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["--help"], ["BUNDLE.json", "derive EXPORT.jsonl", "checkpoint TOKEN"]),
        (["derive", "--help"], ["--quiet", "--confirmations", "derive EXPORT.jsonl"]),
        (["checkpoint", "--help"], ["--export", "@FILE", "checkpoint TOKEN"]),
    ],
)
def test_help_names_the_three_modes(argv: list[str], wanted: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        vr.main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in wanted:
        assert text in out


def test_fallbacks_without_the_accelerators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundles, chain, entries = make_export(n=12)
    monkeypatch.setattr(vr, "_KECCAK_256", None)
    monkeypatch.setattr(vr, "_CC_PUBLIC_KEY", None)
    vr.domain_separator.cache_clear()
    checker = _check(tmp_path, bundles, chain)
    assert checker.ok, checker.failures
    assert checker.balance == _entries_balance(entries)


# --- checkpoints -----------------------------------------------------------------------------


def _worked_example_entries() -> list[Entry]:
    entries = []
    for i, d in enumerate(EX["deltas"]):
        message = {
            key: d[key]
            for key in (
                "tenant",
                "customerId",
                "delta",
                "reason",
                "referenceId",
                "customerIndex",
                "prevFingerprint",
                "corrects",
                "recordedAt",
                "salt",
            )
        }
        metadata = WANT["canonicalMetadata0"] if d["metadata"] is not None else None
        message["metadataHash"] = _hx(keccak(text=metadata)) if metadata else ZERO
        digest = _digest("Delta", message)
        entries.append(Entry(message, metadata, digest, _sign(digest, ANCHORER_KEY)))
        assert i == int(d["customerIndex"])
    return entries


def _worked_example_export(tmp_path: Path) -> tuple[Path, FakeChain]:
    chain = FakeChain()
    bundles = anchor_entries(_worked_example_entries(), chain, batch_size=2, start=7, filler=0, first_batch_id=0)
    assert [b["logIndex"] for b in bundles] == [EX["deltas"][0]["logIndex"], EX["deltas"][1]["logIndex"]]
    assert bundles[0]["batch"]["root"] == WANT["root"]
    assert [b["leaf"] for b in bundles] == [WANT["leaf7"], WANT["leaf8"]]
    return write_export(tmp_path / "example.jsonl", bundles), chain


def _token_fields(token: str) -> list[Any]:
    data = _b(token)
    assert data[0] == 1
    return list(decode(TOKEN_TYPES, data[1:]))


def _encode_token(values: list[Any]) -> str:
    return "0x01" + encode(TOKEN_TYPES, values).hex()


def _checkpoint_message(values: list[Any]) -> dict[str, Any]:
    names = [f["name"] for f in _doc_type("Checkpoint")]
    message = dict(zip(names, values[:11], strict=True))
    message["rangeRoot"] = _hx(message["rangeRoot"])
    message["headFingerprint"] = _hx(message["headFingerprint"])
    return message


def _resign(values: list[Any], countersign: bool = True) -> list[Any]:
    """The same checkpoint fields, signed again by the anchorer (and the customer)."""
    digest = _digest("Checkpoint", _checkpoint_message(values))
    values = list(values)
    values[13] = _b(_sign(digest, ANCHORER_KEY))
    values[14] = _b(_sign(digest, OTHER_KEY)) if countersign else b""
    return values


def _checkpoint(
    token: str, export: Path, chain: FakeChain, monkeypatch: pytest.MonkeyPatch, capsys: Any, *extra: str
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    code = vr.main(["checkpoint", token, "--export", str(export), "--rpc", "fake://chain", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _failed(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}


def test_document_checkpoint_values_agree_with_the_verifier() -> None:
    token = vr.decode_token(_b(WANT["proofToken"]))
    assert _hx(keccak(text=vr.CHECKPOINT_TYPE)) == WANT["checkpointTypeHash"]
    assert vr.type_string("Checkpoint", _doc_type("Checkpoint")) == vr.CHECKPOINT_TYPE
    assert _hx(vr.checkpoint_digest(token)) == WANT["checkpointDigest"]
    assert (
        _hx(_digest("Checkpoint", _checkpoint_message(_token_fields(WANT["proofToken"])))) == WANT["checkpointDigest"]
    )
    fingerprints = [(0, _b(WANT["fingerprint0"])), (1, _b(WANT["fingerprint1"]))]
    assert _hx(vr.standard_tree_root(fingerprints)) == WANT["checkpointRangeRoot"]
    assert _hx(_tree(fingerprints)[0]) == WANT["checkpointRangeRoot"]
    assert (token.net, token.closing_balance) == (int(WANT["checkpointNet"]), int(WANT["checkpointClosingBalance"]))
    assert _hx(token.node_signature) == WANT["checkpointSignature"]
    assert _hx(token.countersignature) == WANT["countersignature"]
    assert (token.chain_id, _hx(token.contract)) == (CHAIN_ID, CONTRACT)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 13])
def test_standard_tree_root_matches_the_reference_layout(n: int) -> None:
    values = [(i, keccak(i.to_bytes(2, "big"))) for i in range(n)]
    assert vr.standard_tree_root(values) == _tree(values)[0]


def test_the_worked_example_checkpoint_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    code, report = _checkpoint(WANT["proofToken"], export, chain, monkeypatch, capsys)
    assert code == 0, report
    assert [c["name"] for c in report["checks"]] == CHECKPOINT_CHECKS
    assert _failed(report) == {}
    assert report["signer"] == WANT["signer"]
    assert report["countersigner"] == WANT["countersigner"]
    assert report["checkpoint"]["closingBalance"] == WANT["checkpointClosingBalance"]
    assert report["headFingerprint"] == WANT["fingerprint1"]

    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["checkpoint", WANT["proofToken"], "--export", str(export), "--contract", CONTRACT]) == 0
    out = capsys.readouterr().out.splitlines()
    for name in CHECKPOINT_CHECKS:
        assert any(line.startswith(f"✓ {name}: ") for line in out), (name, out)
    assert f"countersigner: {WANT['countersigner']}" in out
    assert f"✓ countersignature: countersigned by {WANT['countersigner']}" in "\n".join(out)
    assert out[-1].startswith("checkpoint verified: default/cust_12345 deltas 0..1, opening 0, net -750")


def test_a_token_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    (tmp_path / "token.txt").write_text(WANT["proofToken"] + "\n")
    code, report = _checkpoint(f"@{tmp_path / 'token.txt'}", export, chain, monkeypatch, capsys)
    assert code == 0, _failed(report)


@pytest.mark.parametrize(("index", "value", "check"), [(7, -751, "closing"), (8, b"\x42" * 32, "root")])
def test_an_altered_token_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, index: int, value: Any, check: str
) -> None:
    export, chain = _worked_example_export(tmp_path)
    values = _token_fields(WANT["proofToken"])
    values[index] = value
    code, report = _checkpoint(_encode_token(values), export, chain, monkeypatch, capsys)
    assert code == 1
    # The node signature now recovers to an unrelated address, which is no anchorer.
    assert set(_failed(report)) == {"anchorer", check}
    assert report["signer"] != WANT["signer"]

    code, report = _checkpoint(_encode_token(_resign(values)), export, chain, monkeypatch, capsys)
    assert code == 1
    assert set(_failed(report)) == {check}, _failed(report)
    assert report["signer"] == WANT["signer"]
    assert report["countersigner"] == WANT["countersigner"]


def test_a_token_without_countersignature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    token = _encode_token(_resign(_token_fields(WANT["proofToken"]), countersign=False))
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["checkpoint", token, "--export", str(export)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "countersigner: not countersigned" in out
    assert "✓ countersignature: not countersigned" in out


def test_an_export_short_of_to_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    export.write_text(export.read_text().splitlines()[0] + "\n")
    code, report = _checkpoint(WANT["proofToken"], export, chain, monkeypatch, capsys)
    assert code == 1
    assert set(_failed(report)) == {"range", "net", "closing", "root", "head"}
    assert "ends at customerIndex 0" in _failed(report)["range"]


def _generated_token(entries: list[Entry], start: int, end: int) -> str:
    deltas = [int(e.message["delta"]) for e in entries]
    opening, net = sum(deltas[:start]), sum(deltas[start : end + 1])
    root, _ = _tree([(i, entries[i].fingerprint) for i in range(start, end + 1)])
    values = [
        "default",
        "cust_derive",
        start,
        end,
        end - start + 1,
        opening,
        net,
        opening + net,
        root,
        entries[end].fingerprint,
        1770900000,
        CHAIN_ID,
        CONTRACT,
        b"",
        b"",
    ]
    return _encode_token(_resign(values, countersign=False))


def test_a_checkpoint_of_a_middle_range_ignores_later_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    bundles, chain, entries = make_export()
    path = write_export(tmp_path / "export.jsonl", bundles)
    path.write_text(path.read_text() + "not even json\n")  # beyond toIndex: never read
    code, report = _checkpoint(_generated_token(entries, 10, 19), path, chain, monkeypatch, capsys)
    assert code == 0, _failed(report)
    assert report["count"] == 20
    assert report["countersigner"] is None
    assert report["checkpoint"]["openingBalance"] == str(sum(int(e.message["delta"]) for e in entries[:10]))


def test_a_checkpoint_over_a_broken_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    bundles, chain, entries = make_export()
    bundles[3]["signature"] = _sign(entries[3].fingerprint, OTHER_KEY)
    path = write_export(tmp_path / "export.jsonl", bundles)
    code, report = _checkpoint(_generated_token(entries, 0, 9), path, chain, monkeypatch, capsys)
    assert code == 1
    assert set(_failed(report)) == {"export"}
    assert report["failures"][0]["customerIndex"] == 3 and report["failures"][0]["check"] == "signature"


def test_a_checkpoint_for_another_customer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    values = _token_fields(WANT["proofToken"])
    values[1] = "cust_99999"
    code, report = _checkpoint(_encode_token(_resign(values)), export, chain, monkeypatch, capsys)
    assert code == 1
    assert set(_failed(report)) == {"export"}
    assert {f["check"] for f in report["failures"]} == {"customer"}


def test_pinning_another_contract_fails_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    code, report = _checkpoint(WANT["proofToken"], export, chain, monkeypatch, capsys, "--contract", "0x" + "22" * 20)
    assert code == 1
    assert "is not the pinned contract" in _failed(report)["token"]


def test_bad_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    export, chain = _worked_example_export(tmp_path)
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["checkpoint", "not-hex", "--export", str(export)]) == 2
    assert vr.main(["checkpoint", f"@{tmp_path / 'missing'}", "--export", str(export)]) == 2
    assert vr.main(["checkpoint", WANT["proofToken"], "--export", str(tmp_path / "missing")]) == 2
    capsys.readouterr()
    code, report = _checkpoint("0xff" + WANT["proofToken"][4:], export, chain, monkeypatch, capsys)
    assert code == 1
    assert "version byte is 0xff" in _failed(report)["token"]
    assert set(_failed(report)) == set(CHECKPOINT_CHECKS)
    code, report = _checkpoint(WANT["proofToken"] + "00" * 32, export, chain, monkeypatch, capsys)
    assert code == 1
    assert "canonical" in _failed(report)["token"]
    code, report = _checkpoint(WANT["proofToken"][:200], export, chain, monkeypatch, capsys)
    assert code == 1
    assert "not abi.encode" in _failed(report)["token"]
