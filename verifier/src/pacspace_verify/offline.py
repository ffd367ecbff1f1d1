"""Section 4's offline checks: format, domain, fingerprint, metadata, signature, leaf, proof, range.

Each takes the parsed ``Bundle`` and returns a ``CheckResult``; a check whose inputs failed to
parse fails with the reason rather than raising.
"""

from __future__ import annotations

import re
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from pacspace_verify.bundle import Bundle, Message
from pacspace_verify.protocol import (
    DELTA_FIELDS,
    DELTA_TYPE,
    DELTA_TYPE_HASH,
    DOMAIN_FIELDS,
    DOMAIN_NAME,
    DOMAIN_TYPE,
    DOMAIN_VERSION,
    PRIMARY_TYPE,
    V1,
    ZERO32,
    CheckResult,
    canonical_json,
    describe,
    domain_separator,
    hx,
    hx_opt,
    is_int,
    k256,
    leaf_hash,
    parse_metadata,
    proof_length_bounds,
    proof_root,
    recover_signer,
    signature_problem,
)


def needs(b: Bundle, **fields: object) -> str | None:
    """Reason to skip a check when any of its inputs failed to parse, else None."""
    missing = [name for name, value in fields.items() if value is None]
    if not missing:
        return None
    return f"skipped: {', '.join(missing)} missing or malformed (see format)"


def check_format(b: Bundle) -> CheckResult:
    if b.problems:
        shown = "; ".join(b.problems[:6])
        more = f" (and {len(b.problems) - 6} more)" if len(b.problems) > 6 else ""
        return CheckResult("format", False, f"{len(b.problems)} problem(s): {shown}{more}")
    return CheckResult("format", True, f"{b.version} bundle for {b.receipt_id}; all fields present and well-typed")


def _domain_problems(b: Bundle, typed: dict[str, Any], pinned: bytes | None) -> list[str]:
    bad: list[str] = []
    domain = typed.get("domain")
    if not isinstance(domain, dict):
        return ["typedData.domain is not an object"]
    keys = set(domain)
    want_keys = {"name", "version", "chainId", "verifyingContract"}
    if keys != want_keys:
        bad.append(f"domain fields {sorted(keys)}, expected {sorted(want_keys)}")
    if domain.get("name") != DOMAIN_NAME:
        bad.append(f"name: expected {DOMAIN_NAME!r}, got {describe(domain.get('name'))}")
    want_version = (b.protocol or V1).domain_version  # the version the bundle names
    if domain.get("version") != want_version:
        bad.append(f"version: expected {want_version!r}, got {describe(domain.get('version'))}")
    chain = domain.get("chainId")
    chain_value = chain if is_int(chain) else None
    if isinstance(chain, str) and re.fullmatch(r"(0|[1-9][0-9]*)", chain):
        chain_value = int(chain)
    if chain_value is None or chain_value != b.chain_id:
        bad.append(f"chainId: expected {b.chain_id} (bundle chainId), got {describe(chain)}")
    contract = domain.get("verifyingContract")
    want_contract = hx(b.contract) if b.contract is not None else None
    if not isinstance(contract, str) or contract.lower() != want_contract:
        bad.append(f"verifyingContract: expected {want_contract} (bundle contract), got {describe(contract)}")
    if pinned is not None and b.contract is not None and b.contract != pinned:
        bad.append(f"bundle contract {hx(b.contract)} is not the pinned contract {hx(pinned)}")
    if typed.get("primaryType") != PRIMARY_TYPE:
        bad.append(f"primaryType: expected 'Delta', got {describe(typed.get('primaryType'))}")
    types = typed.get("types")
    if not isinstance(types, dict):
        return [*bad, "typedData.types is not an object"]
    extra = sorted(set(types) - {"Delta", "EIP712Domain"})
    if extra:
        bad.append(f"types: unexpected types {extra}")
    if types.get("Delta") != DELTA_FIELDS:
        bad.append(f"types.Delta is not the protocol's {DELTA_TYPE}")
    if "EIP712Domain" in types and types["EIP712Domain"] != DOMAIN_FIELDS:
        bad.append(f"types.EIP712Domain is not {DOMAIN_TYPE}")
    return bad


def check_domain(b: Bundle, pinned_contract: bytes | None = None) -> CheckResult:
    skip = needs(b, typedData=b.typed_data, chainId=b.chain_id, contract=b.contract)
    if skip or b.typed_data is None:
        return CheckResult("domain", False, skip or "")
    bad = _domain_problems(b, b.typed_data, pinned_contract)
    if bad:
        return CheckResult("domain", False, "; ".join(bad))
    return CheckResult(
        "domain",
        True,
        f"PacSpace v{(b.protocol or V1).number} on chain {b.chain_id} at {hx_opt(b.contract)}, primaryType Delta, "
        "types as in the protocol",
    )


def eip712_digest(typed_data: dict[str, Any]) -> bytes:
    """The EIP-712 digest of typed data JSON, by eth-account."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def manual_digest(chain_id: int, contract: bytes, m: Message, domain_version: str = DOMAIN_VERSION) -> bytes:
    """The digest by hand from section 1's formulas (independent of the typed data JSON)."""
    struct_hash = k256(
        DELTA_TYPE_HASH
        + k256(m.tenant.encode("utf-8"))
        + k256(m.customer_id.encode("utf-8"))
        + m.delta.to_bytes(32, "big", signed=True)
        + k256(m.reason.encode("utf-8"))
        + k256(m.reference_id.encode("utf-8"))
        + m.metadata_hash
        + m.customer_index.to_bytes(32, "big")
        + m.prev_fingerprint
        + m.corrects
        + m.recorded_at.to_bytes(32, "big")
        + m.salt
    )
    return k256(b"\x19\x01" + domain_separator(chain_id, contract, domain_version) + struct_hash)


def _check_fingerprint_fast(b: Bundle) -> CheckResult:
    """Section 1's formulas only (exports): with the domain check passing, typedData holds
    exactly the parsed message under the bundle's domain, so this is its EIP-712 digest."""
    skip = needs(b, message=b.message, chainId=b.chain_id, contract=b.contract, fingerprint=b.fingerprint)
    if skip or b.message is None or b.chain_id is None or b.contract is None or b.fingerprint is None:
        return CheckResult("fingerprint", False, skip or "")
    digest = manual_digest(b.chain_id, b.contract, b.message, (b.protocol or V1).domain_version)
    if digest != b.fingerprint:
        return CheckResult(
            "fingerprint",
            False,
            f"digest of the message by section 1's formulas is {hx(digest)}, bundle fingerprint is {hx(b.fingerprint)}",
        )
    return CheckResult("fingerprint", True, f"{hx(digest)} is the EIP-712 digest of the message")


def check_fingerprint(b: Bundle, fast: bool = False) -> CheckResult:
    if fast:
        return _check_fingerprint_fast(b)
    skip = needs(b, typedData=b.typed_data, fingerprint=b.fingerprint)
    if skip or b.typed_data is None or b.fingerprint is None:
        return CheckResult("fingerprint", False, skip or "")
    try:
        digest = eip712_digest(b.typed_data)
    except Exception as exc:
        return CheckResult("fingerprint", False, f"eth-account cannot encode typedData: {type(exc).__name__}: {exc}")
    if digest != b.fingerprint:
        return CheckResult(
            "fingerprint",
            False,
            f"EIP-712 digest of typedData is {hx(digest)}, bundle fingerprint is {hx(b.fingerprint)}",
        )
    if b.message is not None and b.chain_id is not None and b.contract is not None:
        by_hand = manual_digest(b.chain_id, b.contract, b.message, (b.protocol or V1).domain_version)
        if by_hand != b.fingerprint:
            return CheckResult(
                "fingerprint",
                False,
                f"digest by section 1's formulas (domain of the bundle's chainId and contract) is "
                f"{hx(by_hand)}, bundle fingerprint is {hx(b.fingerprint)}",
            )
    return CheckResult("fingerprint", True, f"{hx(digest)} is the EIP-712 digest of typedData")


def check_metadata(b: Bundle) -> CheckResult:
    skip = needs(
        b,
        metadata="ok" if b.metadata_ok else None,
        **{"message.metadataHash": b.metadata_hash},
    )
    if skip or b.metadata_hash is None:
        return CheckResult("metadata", False, skip or "")
    if b.metadata is None:
        if b.metadata_hash != ZERO32:
            return CheckResult(
                "metadata",
                False,
                f"metadata is null but message.metadataHash is {hx(b.metadata_hash)}, "
                f"expected 32 zero bytes (the bundle withholds the metadata text)",
            )
        return CheckResult("metadata", True, "no metadata; metadataHash is 32 zero bytes")
    digest = k256(b.metadata.encode("utf-8"))
    if digest != b.metadata_hash:
        return CheckResult(
            "metadata",
            False,
            f"keccak256(metadata) is {hx(digest)}, message.metadataHash is {hx(b.metadata_hash)}",
        )
    try:
        value = parse_metadata(b.metadata)
        if not isinstance(value, dict):
            raise ValueError(f"metadata must be a JSON object, got {type(value).__name__}")
        canonical = canonical_json(value)
    except (ValueError, RecursionError) as exc:
        return CheckResult("metadata", False, f"metadata text is not canonical JSON: {exc}")
    if canonical != b.metadata:
        return CheckResult(
            "metadata",
            False,
            f"metadata text is not canonical: got {describe(b.metadata)}, canonical form is {describe(canonical)}",
        )
    return CheckResult("metadata", True, f"canonical {describe(b.metadata)} hashes to message.metadataHash")


def check_signature(b: Bundle, fast: bool = False) -> CheckResult:
    skip = needs(b, fingerprint=b.fingerprint, signature=b.signature, signer=b.signer)
    if skip or b.fingerprint is None or b.signature is None or b.signer is None:
        return CheckResult("signature", False, skip or "")
    problem = signature_problem(b.signature)
    if problem:
        return CheckResult("signature", False, problem)
    try:
        recovered = hx(recover_signer(b.fingerprint, b.signature, fast=fast))
    except Exception as exc:
        return CheckResult("signature", False, f"cannot recover a signer: {exc}")
    if recovered != hx(b.signer):
        return CheckResult("signature", False, f"signature recovers to {recovered}, bundle signer is {hx(b.signer)}")
    return CheckResult("signature", True, f"signed by {recovered}")


def check_leaf(b: Bundle) -> CheckResult:
    skip = needs(b, logIndex=b.log_index, fingerprint=b.fingerprint, leaf=b.leaf)
    if skip or b.log_index is None or b.fingerprint is None or b.leaf is None:
        return CheckResult("leaf", False, skip or "")
    want = leaf_hash(b.log_index, b.fingerprint)
    if want != b.leaf:
        return CheckResult(
            "leaf",
            False,
            f"leaf of (logIndex {b.log_index}, fingerprint) is {hx(want)}, bundle leaf is {hx(b.leaf)}",
        )
    return CheckResult("leaf", True, f"{hx(want)} for log index {b.log_index}")


def check_proof(b: Bundle) -> CheckResult:
    skip = needs(
        b,
        logIndex=b.log_index,
        fingerprint=b.fingerprint,
        proof=b.proof,
        **{"batch.root": b.root},
    )
    if skip or b.log_index is None or b.fingerprint is None or b.proof is None or b.root is None:
        return CheckResult("proof", False, skip or "")
    # Fold from the recomputed leaf: what matters is that this fingerprint is in the batch.
    folded = proof_root(b.log_index, b.fingerprint, b.proof)
    if folded != b.root:
        return CheckResult(
            "proof",
            False,
            f"proof of {len(b.proof)} hash(es) folds to {hx(folded)}, batch.root is {hx(b.root)}",
        )
    if b.count is not None and b.count > 0:
        low, high = proof_length_bounds(b.count)
        if not low <= len(b.proof) <= high:
            return CheckResult(
                "proof",
                False,
                f"a proof of {len(b.proof)} hash(es) is impossible in a batch of count "
                f"{b.count} (a StandardMerkleTree leaf of {b.count} has {low}..{high})",
            )
    return CheckResult("proof", True, f"{len(b.proof)} hash(es) fold to batch root {hx(b.root)}")


def check_range(b: Bundle) -> CheckResult:
    skip = needs(
        b,
        logIndex=b.log_index,
        **{"batch.startIndex": b.start_index, "batch.count": b.count},
    )
    if skip or b.log_index is None or b.start_index is None or b.count is None:
        return CheckResult("range", False, skip or "")
    end = b.start_index + b.count
    if b.count == 0:
        return CheckResult("range", False, "batch.count is 0; a batch has at least one entry")
    if not b.start_index <= b.log_index < end:
        return CheckResult(
            "range",
            False,
            f"logIndex {b.log_index} is outside the batch [{b.start_index}, {end})",
        )
    return CheckResult("range", True, f"log index {b.log_index} in [{b.start_index}, {end})")


def run_offline_checks(b: Bundle, pinned_contract: bytes | None = None, fast: bool = False) -> list[CheckResult]:
    """Section 4's offline checks. ``fast`` (exports): the fingerprint by section 1's formulas
    only, not also through eth-account's generic encoder, and signatures recovered by coincurve."""
    return [
        check_format(b),
        check_domain(b, pinned_contract),
        check_fingerprint(b, fast),
        check_metadata(b),
        check_signature(b, fast),
        check_leaf(b),
        check_proof(b),
        check_range(b),
    ]
