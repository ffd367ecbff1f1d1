"""The offline checks of a proof bundle (docs/PROTOCOL.md section 4), named as the auditor's
verifier names them: format, domain, fingerprint, metadata, signature, leaf, proof, range.
node.core.chain_checks has the six on-chain ones.

A check whose inputs did not read fails and says which; no check stops the others. The
dashboard's "verify against the chain" shows these; tests/integration/test_dashboard_verification.py
holds them to the verifier script's verdicts on the same bundles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from node.core.bundle_reading import ReadBundle
from node.core.canonical_json import canonicalize
from node.core.errors import InvalidInput
from node.core.hashing import ZERO32, keccak256, to_hex
from node.core.merkle import compute_leaf_hash, compute_root_from_proof
from node.core.protocol import DOMAIN_NAME
from node.core.signing import recover_signer
from node.core.typed_data import DOMAIN_VERSION, EIP712_TYPES, Domain, compute_fingerprint

CHECK_NAMES = (
    "format",
    "domain",
    "fingerprint",
    "metadata",
    "signature",
    "leaf",
    "proof",
    "range",
    "chain_id",
    "anchorer",
    "commitment",
    "transaction",
    "block",
    "confirmations",
)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def missing(**inputs: object) -> str | None:
    absent = [name for name, value in inputs.items() if value is None]
    return f"skipped: {', '.join(absent)} missing or malformed (see format)" if absent else None


def _fail(name: str, why: str) -> CheckResult:
    return CheckResult(name, False, why)


# --- offline -------------------------------------------------------------------------------


def check_format(b: ReadBundle) -> CheckResult:
    if b.problems:
        more = f" (and {len(b.problems) - 5} more)" if len(b.problems) > 5 else ""
        return _fail("format", f"{len(b.problems)} problem(s): {'; '.join(b.problems[:5])}{more}")
    return CheckResult("format", True, f"{b.version} bundle for {b.receipt_id}, every field present and well typed")


def _typed_chain_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and (value == "0" or not value.startswith("0")):
        return int(value)
    return None


def _domain_differences(b: ReadBundle, typed: dict[str, Any], pinned: bytes | None) -> list[str]:
    assert b.contract is not None
    found: list[str] = []
    domain = typed["domain"]
    if set(domain) != {"name", "version", "chainId", "verifyingContract"}:
        found.append(f"domain has fields {sorted(domain)}, not name, version, chainId, verifyingContract")
    if domain.get("name") != DOMAIN_NAME or domain.get("version") != DOMAIN_VERSION:
        found.append(f"domain is not {DOMAIN_NAME!r} version {DOMAIN_VERSION!r}")
    if _typed_chain_id(domain.get("chainId")) != b.chain_id:
        found.append(f"domain chainId is not the bundle's chainId {b.chain_id}")
    contract = domain.get("verifyingContract")
    if not isinstance(contract, str) or contract.lower() != to_hex(b.contract):
        found.append(f"domain verifyingContract is not the bundle's contract {to_hex(b.contract)}")
    if pinned is not None and b.contract != pinned:
        found.append(f"the bundle names contract {to_hex(b.contract)}, not this node's {to_hex(pinned)}")
    if typed["primaryType"] != "Delta":
        found.append("primaryType is not Delta")
    types = typed["types"]
    if set(types) - {"Delta", "EIP712Domain"}:
        found.append(f"types has unexpected entries {sorted(set(types) - {'Delta', 'EIP712Domain'})}")
    if types.get("Delta") != EIP712_TYPES["Delta"]:
        found.append("types.Delta is not the protocol's Delta type")
    if "EIP712Domain" in types and types["EIP712Domain"] != EIP712_TYPES["EIP712Domain"]:
        found.append("types.EIP712Domain is not the protocol's domain type")
    return found


def check_domain(b: ReadBundle, pinned_contract: bytes | None) -> CheckResult:
    skip = missing(typedData=b.typed_data, chainId=b.chain_id, contract=b.contract)
    if skip or b.typed_data is None:
        return _fail("domain", skip or "")
    differences = _domain_differences(b, b.typed_data, pinned_contract)
    if differences:
        return _fail("domain", "; ".join(differences))
    return CheckResult("domain", True, f"PacSpace v1 on chain {b.chain_id} at {to_hex(b.contract or b'')}")


def check_fingerprint(b: ReadBundle) -> CheckResult:
    skip = missing(typedData=b.typed_data, fingerprint=b.fingerprint)
    if skip or b.typed_data is None or b.fingerprint is None:
        return _fail("fingerprint", skip or "")
    if b.delta is None:
        return _fail("fingerprint", "typedData.message does not read as a Delta, so it cannot hash to the fingerprint")
    typed = b.typed_data
    domain = typed["domain"]
    chain_id = _typed_chain_id(domain.get("chainId"))
    contract = domain.get("verifyingContract")
    if (
        typed["primaryType"] != "Delta"
        or typed["types"].get("Delta") != EIP712_TYPES["Delta"]
        or domain.get("name") != DOMAIN_NAME
        or domain.get("version") != DOMAIN_VERSION
        or chain_id is None
        or chain_id <= 0
        or not isinstance(contract, str)
        or len(contract) != 42
    ):
        return _fail("fingerprint", "typedData is not a PacSpace Delta under a PacSpace domain; its digest differs")
    try:
        typed_domain = Domain(chain_id, bytes.fromhex(contract[2:]))
    except ValueError:
        return _fail("fingerprint", "typedData.domain.verifyingContract is not an address")
    digest = compute_fingerprint(typed_domain, b.delta)
    if digest != b.fingerprint:
        return _fail("fingerprint", f"the typed data hashes to {to_hex(digest)}, not the fingerprint")
    if b.chain_id is not None and b.contract is not None:
        own = compute_fingerprint(Domain(b.chain_id, b.contract), b.delta)
        if own != b.fingerprint:
            return _fail("fingerprint", f"under the bundle's chainId and contract the message hashes to {to_hex(own)}")
    return CheckResult("fingerprint", True, f"{to_hex(digest)} is the EIP-712 digest of the typed data")


def _metadata_problem(text: str) -> str | None:
    def no_floats(number: str) -> object:
        raise ValueError(f"float {number} (integers only)")

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("a key appears twice")
        return dict(pairs)

    try:
        value = json.loads(text, parse_float=no_floats, parse_constant=no_constants, object_pairs_hook=no_duplicates)
        if not isinstance(value, dict):
            return "metadata is not a JSON object"
        canonical = canonicalize(value)
    except (ValueError, RecursionError) as exc:
        return f"metadata is not canonical JSON: {exc.detail if isinstance(exc, InvalidInput) else exc}"
    return None if canonical == text else "metadata text is not in canonical form"


def check_metadata(b: ReadBundle) -> CheckResult:
    skip = missing(metadata=True if b.metadata_present else None, metadataHash=b.metadata_hash)
    if skip or b.metadata_hash is None:
        return _fail("metadata", skip or "")
    if b.metadata is None:
        if b.metadata_hash != ZERO32:
            return _fail("metadata", "metadata is withheld (null) but metadataHash is not 32 zero bytes")
        return CheckResult("metadata", True, "no metadata; metadataHash is 32 zero bytes")
    digest = keccak256(b.metadata.encode("utf-8"))
    if digest != b.metadata_hash:
        return _fail("metadata", f"keccak256(metadata) is {to_hex(digest)}, not the message's metadataHash")
    problem = _metadata_problem(b.metadata)
    if problem:
        return _fail("metadata", problem)
    return CheckResult("metadata", True, "the canonical metadata hashes to metadataHash")


def _signature_problem(signature: bytes) -> str | None:
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (27, 28):
        return f"v is {v}, not 27 or 28"
    if not (0 < r < _SECP256K1_N and 0 < s < _SECP256K1_N):
        return "r or s is out of range"
    if s > _SECP256K1_N // 2:
        return "s is not in the lower half of the curve order"
    return None


def check_signature(b: ReadBundle) -> CheckResult:
    skip = missing(fingerprint=b.fingerprint, signature=b.signature, signer=b.signer)
    if skip or b.fingerprint is None or b.signature is None or b.signer is None:
        return _fail("signature", skip or "")
    problem = _signature_problem(b.signature)
    if problem:
        return _fail("signature", problem)
    try:
        recovered = recover_signer(b.fingerprint, b.signature)
    except ValueError as exc:
        return _fail("signature", f"no signer recovers: {exc}")
    if recovered != b.signer:
        return _fail("signature", f"the signature recovers to {to_hex(recovered)}, not the signer {to_hex(b.signer)}")
    return CheckResult("signature", True, f"signed by {to_hex(recovered)}")


def check_leaf(b: ReadBundle) -> CheckResult:
    skip = missing(logIndex=b.log_index, fingerprint=b.fingerprint, leaf=b.leaf)
    if skip or b.log_index is None or b.fingerprint is None or b.leaf is None:
        return _fail("leaf", skip or "")
    leaf = compute_leaf_hash(b.log_index, b.fingerprint)
    if leaf != b.leaf:
        return _fail("leaf", f"the leaf of log index {b.log_index} and the fingerprint is {to_hex(leaf)}")
    return CheckResult("leaf", True, f"{to_hex(leaf)} for log index {b.log_index}")


def check_proof(b: ReadBundle) -> CheckResult:
    skip = missing(logIndex=b.log_index, fingerprint=b.fingerprint, proof=b.proof, root=b.root)
    if skip or b.log_index is None or b.fingerprint is None or b.proof is None or b.root is None:
        return _fail("proof", skip or "")
    reached = compute_root_from_proof(compute_leaf_hash(b.log_index, b.fingerprint), b.proof)
    if reached != b.root:
        return _fail("proof", f"the proof reaches {to_hex(reached)}, not the batch root")
    if b.count:
        # A leaf of a StandardMerkleTree of n leaves sits floor(log2 n) or up to floor(log2(2n-1)) deep.
        shallowest, deepest = b.count.bit_length() - 1, (2 * b.count - 1).bit_length() - 1
        if not shallowest <= len(b.proof) <= deepest:
            return _fail("proof", f"{len(b.proof)} siblings cannot be a proof in a batch of {b.count}")
    return CheckResult("proof", True, f"{len(b.proof)} sibling hash(es) reach the batch root {to_hex(b.root)}")


def check_range(b: ReadBundle) -> CheckResult:
    skip = missing(logIndex=b.log_index, startIndex=b.start_index, count=b.count)
    if skip or b.log_index is None or b.start_index is None or b.count is None:
        return _fail("range", skip or "")
    if b.count == 0:
        return _fail("range", "the batch count is 0")
    end = b.start_index + b.count
    if not b.start_index <= b.log_index < end:
        return _fail("range", f"log index {b.log_index} is outside the batch [{b.start_index}, {end})")
    return CheckResult("range", True, f"log index {b.log_index} is in [{b.start_index}, {end})")


def run_offline_checks(b: ReadBundle, pinned_contract: bytes | None) -> list[CheckResult]:
    return [
        check_format(b),
        check_domain(b, pinned_contract),
        check_fingerprint(b),
        check_metadata(b),
        check_signature(b),
        check_leaf(b),
        check_proof(b),
        check_range(b),
    ]
