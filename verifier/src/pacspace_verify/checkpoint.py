"""Section 5's checkpoint checks, once the export (0..toIndex) has gone through an ``ExportChecker``.

token, signature, anchorer, countersignature, export, range, then opening, net, closing, root
and head recomputed by ``RangeSums`` from the export's in-sequence deltas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from pacspace_verify.chain import ChainSource
from pacspace_verify.derive import ExportChecker
from pacspace_verify.proof_token import Token, checkpoint_digest, checkpoint_typed_data
from pacspace_verify.protocol import (
    CheckResult,
    describe,
    hx,
    hx_opt,
    recover_signer,
    signature_problem,
    standard_tree_root,
)

CHECKPOINT_CHECKS = (
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
)


@dataclass
class RangeSums:
    """What a checkpoint states, recomputed from the export's in-sequence deltas."""

    from_index: int
    to_index: int
    opening: int = 0
    opening_deltas: int = 0
    net: int = 0
    net_deltas: int = 0
    leaves: list[tuple[int, bytes]] = field(default_factory=list)
    head: bytes | None = None

    def __call__(self, index: int, delta: int | None, fingerprint: bytes | None) -> None:
        if index < self.from_index:
            if delta is not None:
                self.opening += delta
                self.opening_deltas += 1
        elif index <= self.to_index:
            if delta is not None:
                self.net += delta
                self.net_deltas += 1
            if fingerprint is not None:
                self.leaves.append((index, fingerprint))
            if index == self.to_index:
                self.head = fingerprint


INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1


@dataclass
class CheckpointOutcome:
    results: list[CheckResult]
    signer: bytes | None = None
    countersigner: bytes | None = None


def _cp_token(t: Token, pinned: bytes | None) -> CheckResult:
    if pinned is not None and t.contract != pinned:
        return CheckResult(
            "token", False, f"verifyingContract {hx(t.contract)} is not the pinned contract {hx(pinned)}"
        )
    last_second = 253402300799  # 9999-12-31T23:59:59Z, the last time datetime can show
    when = (
        datetime.fromtimestamp(t.created_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if t.created_at <= last_second
        else "?"
    )
    return CheckResult(
        "token",
        True,
        f"v{t.protocol.number} checkpoint of {describe(t.tenant)}/{describe(t.customer_id)} "
        f"deltas {t.from_index}..{t.to_index}, "
        f"chain {t.chain_id}, contract {hx(t.contract)}, created {t.created_at} ({when})",
    )


def _cp_signature(t: Token) -> tuple[CheckResult, bytes | None]:
    problem = signature_problem(t.node_signature)
    if problem:
        return CheckResult("signature", False, f"node signature: {problem}"), None
    digest = checkpoint_digest(t)
    try:
        signable = encode_typed_data(full_message=checkpoint_typed_data(t))
        library = keccak(b"\x19" + signable.version + signable.header + signable.body)
    except Exception as exc:
        return CheckResult("signature", False, f"eth-account cannot encode the checkpoint: {exc}"), None
    if library != digest:
        return CheckResult(
            "signature",
            False,
            f"eth-account's EIP-712 digest {hx(library)} differs from section 5's formulas {hx(digest)}",
        ), None
    try:
        signer = recover_signer(digest, t.node_signature, fast=False)
    except Exception as exc:
        return CheckResult("signature", False, f"cannot recover a signer: {exc}"), None
    return CheckResult(
        "signature", True, f"node signature over checkpoint digest {hx(digest)} recovers to {hx(signer)}"
    ), signer


def _contract_version(chain: ChainSource, contract: bytes) -> int:
    """The contract's protocolVersion(); 1 when it has none (or the RPC gives no answer to it)."""
    try:
        return chain.protocol_version(contract)
    except OSError:
        raise
    except Exception:
        return 1


def _cp_signer_window(
    t: Token, signer: bytes, chain: ChainSource, contract: bytes, head_log_index: int | None, rpc_chain: int
) -> CheckResult:
    """Protocol v2: a v2 contract, and the signer not revoked before the head delta's log index."""
    version = chain.protocol_version(contract)
    if version != 2:
        return CheckResult(
            "anchorer", False, f"{hx(contract)} is a protocol v{version} contract; a v2 token needs a v2 contract"
        )
    if head_log_index is None:
        return CheckResult(
            "anchorer", False, f"skipped: the export has no anchored delta at toIndex {t.to_index} (see range)"
        )
    from_index, until_index, exists = chain.signer_window(contract, signer)
    if not exists:
        return CheckResult("anchorer", False, f"{hx(signer)} was never a receipt signer of {hx(contract)}")
    if head_log_index >= until_index:
        return CheckResult(
            "anchorer",
            False,
            f"{hx(signer)} was revoked at log index {until_index}, before the checkpoint's head delta "
            f"(log index {head_log_index}) was anchored",
        )
    return CheckResult(
        "anchorer",
        True,
        f"{hx(signer)} is a receipt signer of {hx(contract)} on chain {rpc_chain} (window from {from_index}), "
        f"not revoked before the head delta's log index {head_log_index}",
    )


def _cp_anchorer(
    t: Token, signer: bytes | None, chain: ChainSource, contract: bytes, head_log_index: int | None = None
) -> CheckResult:
    if signer is None:
        return CheckResult("anchorer", False, "skipped: no node signer recovered (see signature)")
    try:
        rpc_chain = chain.chain_id()
        if rpc_chain != t.chain_id:
            return CheckResult("anchorer", False, f"RPC chain id is {rpc_chain}, the token's chainId is {t.chain_id}")
        if chain.code_size(contract) == 0:
            return CheckResult("anchorer", False, f"no contract code at {hx(contract)} on this chain")
        if t.protocol.signer_window:
            return _cp_signer_window(t, signer, chain, contract, head_log_index, rpc_chain)
        authorised = chain.is_anchorer(contract, signer)
        if authorised and _contract_version(chain, contract) >= 2:
            return CheckResult(
                "anchorer",
                False,
                f"{hx(contract)} is a protocol v2 contract; a v1 token is only valid against a v1 contract",
            )
    except OSError as exc:
        return CheckResult("anchorer", False, f"RPC unreachable at {chain.url} ({type(exc).__name__})")
    except Exception as exc:
        return CheckResult("anchorer", False, f"isAnchorer failed: {type(exc).__name__}: {exc}")
    if not authorised:
        return CheckResult(
            "anchorer",
            False,
            f"isAnchorer({hx(signer)}) is false on {hx(contract)}: the node signature is not by an authorised "
            "anchorer (an altered token recovers to an unrelated address)",
        )
    return CheckResult(
        "anchorer", True, f"{hx(signer)} is an authorised anchorer of {hx(contract)} on chain {rpc_chain}"
    )


def _cp_countersignature(t: Token) -> tuple[CheckResult, bytes | None]:
    if not t.countersignature:
        return CheckResult("countersignature", True, "not countersigned"), None
    signature = t.countersignature
    if len(signature) == 65 and signature[64] in (0, 1):  # some wallets return v as 0/1
        signature = signature[:64] + bytes([signature[64] + 27])
    problem = signature_problem(signature, low_s=False)
    if problem:
        return CheckResult("countersignature", False, problem), None
    try:
        countersigner = recover_signer(checkpoint_digest(t), signature, fast=False)
    except Exception as exc:
        return CheckResult("countersignature", False, f"cannot recover a countersigner: {exc}"), None
    return CheckResult(
        "countersignature",
        True,
        f"countersigned by {hx(countersigner)} (whether that is the customer's key is for you to decide)",
    ), countersigner


def _cp_export(checker: ExportChecker) -> CheckResult:
    if checker.failure_count:
        checks = ", ".join(f"{name} ×{n}" for name, n in checker.by_check.most_common())
        return CheckResult(
            "export",
            False,
            f"{checker.failure_count} failure(s) in {checker.failed_bundles} of {checker.count} bundle(s): {checks}",
        )
    return CheckResult(
        "export",
        True,
        f"{checker.count} bundle(s), customerIndex 0..{checker.head_index}: every section 4 check, links, corrects",
    )


def _cp_range(t: Token, checker: ExportChecker) -> CheckResult:
    if t.from_index > t.to_index:
        return CheckResult("range", False, f"fromIndex {t.from_index} is after toIndex {t.to_index}")
    if t.count != t.to_index - t.from_index + 1:
        return CheckResult(
            "range", False, f"count is {t.count}, toIndex - fromIndex + 1 is {t.to_index - t.from_index + 1}"
        )
    if checker.head_index != t.to_index:
        return CheckResult(
            "range",
            False,
            f"the export ends at customerIndex {checker.head_index}, the checkpoint needs 0..{t.to_index}",
        )
    return CheckResult(
        "range", True, f"{t.count} delta(s) {t.from_index}..{t.to_index}; the export reaches {t.to_index}"
    )


def _cp_sums(t: Token, sums: RangeSums) -> list[CheckResult]:
    out: list[CheckResult] = []
    opening_ok = sums.opening_deltas == t.from_index
    net_ok = t.count == t.to_index - t.from_index + 1 and sums.net_deltas == t.count
    if not opening_ok:
        out.append(
            CheckResult(
                "opening",
                False,
                f"cannot recompute: the export has {sums.opening_deltas} of the {t.from_index} delta(s) before "
                f"fromIndex",
            )
        )
    elif sums.opening != t.opening_balance:
        out.append(
            CheckResult(
                "opening",
                False,
                f"deltas 0..{t.from_index - 1} sum to {sums.opening}, openingBalance is {t.opening_balance}",
            )
        )
    else:
        out.append(CheckResult("opening", True, f"deltas before {t.from_index} sum to {sums.opening}"))
    if not net_ok:
        out.append(
            CheckResult(
                "net",
                False,
                f"cannot recompute: the export has {sums.net_deltas} delta(s) in {t.from_index}..{t.to_index}",
            )
        )
    elif sums.net != t.net:
        out.append(CheckResult("net", False, f"deltas {t.from_index}..{t.to_index} sum to {sums.net}, net is {t.net}"))
    else:
        out.append(CheckResult("net", True, f"deltas {t.from_index}..{t.to_index} sum to {sums.net}"))
    closing = sums.opening + sums.net
    stated = t.opening_balance + t.net
    if not (opening_ok and net_ok):
        out.append(CheckResult("closing", False, "cannot recompute: opening or net could not be recomputed"))
    elif not all(INT256_MIN <= value <= INT256_MAX for value in (sums.opening, sums.net, closing)):
        out.append(
            CheckResult(
                "closing",
                False,
                f"the recomputed sums leave int256 (opening {sums.opening}, net {sums.net}, closing {closing})",
            )
        )
    elif closing != t.closing_balance:
        note = "" if stated == t.closing_balance else f"; the token's own openingBalance + net is {stated}"
        out.append(
            CheckResult("closing", False, f"opening + net is {closing}, closingBalance is {t.closing_balance}{note}")
        )
    elif stated != t.closing_balance:
        out.append(
            CheckResult(
                "closing", False, f"the token's openingBalance + net is {stated}, closingBalance is {t.closing_balance}"
            )
        )
    else:
        out.append(CheckResult("closing", True, f"opening {sums.opening} + net {sums.net} = {closing}"))
    if not net_ok or len(sums.leaves) != t.count:
        out.append(
            CheckResult(
                "root",
                False,
                f"cannot recompute: the export has {len(sums.leaves)} fingerprint(s) in {t.from_index}..{t.to_index}",
            )
        )
    else:
        root = standard_tree_root(sums.leaves)
        if root != t.range_root:
            out.append(
                CheckResult(
                    "root",
                    False,
                    f"StandardMerkleTree of (customerIndex, fingerprint) over {t.from_index}..{t.to_index} is "
                    f"{hx(root)}, rangeRoot is {hx(t.range_root)}",
                )
            )
        else:
            out.append(CheckResult("root", True, f"{hx(root)} over {t.count} leaf/leaves"))
    if sums.head is None:
        out.append(CheckResult("head", False, f"cannot recompute: no fingerprint at customerIndex {t.to_index}"))
    elif sums.head != t.head_fingerprint:
        out.append(
            CheckResult(
                "head",
                False,
                f"the fingerprint at customerIndex {t.to_index} is {hx(sums.head)}, headFingerprint is "
                f"{hx(t.head_fingerprint)}",
            )
        )
    else:
        out.append(CheckResult("head", True, f"customerIndex {t.to_index} is {hx(sums.head)}"))
    return out


def run_checkpoint_checks(
    t: Token,
    checker: ExportChecker,
    sums: RangeSums,
    contract: bytes,
    pinned: bytes | None,
) -> CheckpointOutcome:
    """The checkpoint checks, once the export (0..toIndex) has gone through ``checker``."""
    signature, signer = _cp_signature(t)
    countersignature, countersigner = _cp_countersignature(t)
    results = [
        _cp_token(t, pinned),
        signature,
        _cp_anchorer(t, signer, checker.chain, contract, checker.head_log_index),
        countersignature,
        _cp_export(checker),
        _cp_range(t, checker),
        *_cp_sums(t, sums),
    ]
    return CheckpointOutcome(results, signer, countersigner)


def checkpoint_summary(t: Token | None, outcome: CheckpointOutcome) -> str:
    failed = [r.name for r in outcome.results if not r.ok]
    if failed or t is None:
        return f"CHECKPOINT NOT VERIFIED: {len(failed)} of {len(outcome.results)} checks failed ({', '.join(failed)})"
    counter = f"countersigned by {hx(outcome.countersigner)}" if outcome.countersigner else "not countersigned"
    return (
        f"checkpoint verified: {t.tenant}/{t.customer_id} deltas {t.from_index}..{t.to_index}, opening "
        f"{t.opening_balance}, net {t.net}, closing {t.closing_balance}; signed by anchorer "
        f"{hx_opt(outcome.signer)}, {counter}"
    )
