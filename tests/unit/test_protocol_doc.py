"""docs/PROTOCOL.md's worked example, recomputed from the page's own JSON block.

Fingerprints are recomputed twice: with eth-account's generic EIP-712 encoder from the typed
data (what a third party does) and with the node's core, so the page, the node and a standard
library must all agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from node.core.canonical_json import canonicalize
from node.core.checkpoints import (
    CHECKPOINT_TYPEHASH,
    build_checkpoint,
    build_checkpoint_typed_data,
    compute_checkpoint_digest,
    decode_proof_token,
    encode_proof_token,
)
from node.core.hashing import from_hex, to_hex
from node.core.merkle import MerkleTree, compute_leaf_hash
from node.core.signing import Signer
from node.core.typed_data import DELTA_TYPEHASH, EIP712_TYPES, Delta, Domain, compute_fingerprint, compute_struct_hash
from tests.support import worked_example

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


def _delta(entry: dict[str, Any]) -> tuple[Delta, str | None]:
    meta = None if entry["metadata"] is None else canonicalize(entry["metadata"])
    return (
        Delta(
            tenant=entry["tenant"],
            customer_id=entry["customerId"],
            delta=int(entry["delta"]),
            reason=entry["reason"],
            reference_id=entry["referenceId"],
            metadata_hash=bytes(32) if meta is None else bytes(keccak(meta.encode())),
            customer_index=int(entry["customerIndex"]),
            prev_fingerprint=from_hex(entry["prevFingerprint"], length=32),
            recorded_at=int(entry["recordedAt"]),
            salt=from_hex(entry["salt"], length=32),
            corrects=from_hex(entry["corrects"], length=32),
        ),
        meta,
    )


def test_worked_example_matches_the_document() -> None:
    ex = worked_example()
    want = ex["expected"]
    domain = Domain(ex["domain"]["chainId"], from_hex(ex["domain"]["verifyingContract"], length=20))
    d0, meta0 = _delta(ex["deltas"][0])
    d1, _ = _delta(ex["deltas"][1])

    assert meta0 == want["canonicalMetadata0"]
    assert to_hex(d0.metadata_hash) == want["metadataHash0"]
    assert to_hex(DELTA_TYPEHASH) == want["deltaTypeHash"]
    assert to_hex(domain.separator) == want["domainSeparator"]
    assert to_hex(compute_struct_hash(d0)) == want["structHash0"]

    for delta, key in ((d0, "fingerprint0"), (d1, "fingerprint1")):
        typed = {
            "types": EIP712_TYPES,
            "primaryType": "Delta",
            "domain": domain.to_json(),
            "message": delta.to_message(),
        }
        message = encode_typed_data(full_message=typed)
        reference = keccak(b"\x19" + message.version + message.header + message.body)
        assert to_hex(bytes(reference)) == to_hex(compute_fingerprint(domain, delta)) == want[key]

    f0 = from_hex(want["fingerprint0"])
    assert d1.prev_fingerprint == f0, "the second delta links to the first"
    signer = Signer(from_hex(ex["signerPrivateKey"], length=32))
    assert to_hex(signer.sign_digest(f0)) == want["signature0"]
    assert Account._recover_hash(f0, signature=from_hex(want["signature0"])).lower() == want["signer"]

    leaves = [
        compute_leaf_hash(e["logIndex"], compute_fingerprint(domain, d))
        for e, d in zip(ex["deltas"], (d0, d1), strict=True)
    ]
    assert [to_hex(x) for x in leaves] == [want["leaf7"], want["leaf8"]]
    tree = MerkleTree.build(leaves)
    assert to_hex(tree.root) == want["root"]
    assert [to_hex(p) for p in tree.proof(0)] == want["proof7"]
    commitment = keccak(tree.root + (2).to_bytes(32, "big"))
    assert to_hex(bytes(commitment)) == want["batchCommitment"]
    assert d1.corrects == f0, "the credit names the charge it corrects"


def test_worked_checkpoint_matches_the_document() -> None:
    ex = worked_example()
    want = ex["expected"]
    domain = Domain(ex["domain"]["chainId"], from_hex(ex["domain"]["verifyingContract"], length=20))
    d0, _ = _delta(ex["deltas"][0])
    d1, _ = _delta(ex["deltas"][1])
    spec = ex["checkpoint"]
    cp = build_checkpoint(
        tenant="default",
        customer_id="cust_12345",
        entries=[(0, compute_fingerprint(domain, d0), d0.delta), (1, compute_fingerprint(domain, d1), d1.delta)],
        opening_balance=int(spec["openingBalance"]),
        created_at=int(spec["createdAt"]),
    )
    assert (cp.from_index, cp.to_index, cp.count) == (spec["fromIndex"], spec["toIndex"], 2)
    assert str(cp.net) == want["checkpointNet"] and str(cp.closing_balance) == want["checkpointClosingBalance"]
    assert to_hex(CHECKPOINT_TYPEHASH) == want["checkpointTypeHash"]
    assert to_hex(cp.range_root) == want["checkpointRangeRoot"]
    digest = compute_checkpoint_digest(domain, cp)
    typed = build_checkpoint_typed_data(domain, cp)
    message = encode_typed_data(full_message=typed)
    assert to_hex(bytes(keccak(b"\x19" + message.version + message.header + message.body))) == to_hex(digest)
    assert to_hex(digest) == want["checkpointDigest"]
    node_sig = Signer(from_hex(ex["signerPrivateKey"], length=32)).sign_digest(digest)
    countersigner = Signer(from_hex(spec["countersignerPrivateKey"], length=32))
    countersig = countersigner.sign_digest(digest)
    assert to_hex(node_sig) == want["checkpointSignature"] and to_hex(countersig) == want["countersignature"]
    assert to_hex(countersigner.address) == want["countersigner"]
    token = encode_proof_token(domain, cp, node_sig, countersig)
    assert token == want["proofToken"]
    decoded = decode_proof_token(token)
    assert decoded.checkpoint == cp and decoded.countersignature == countersig and decoded.domain == domain
