"""Section 4's on-chain checks: chain_id, anchorer, commitment, transaction, block, confirmations.

Pure functions of the parsed bundle and the ``ChainFacts`` fetched for it; ``run_all_checks``
fetches the facts and runs all 14 checks of a bundle.
"""

from __future__ import annotations

from pacspace_verify.bundle import Bundle
from pacspace_verify.chain import ChainFacts, ChainSource, FetchError, TxReceipt, fetch_chain_facts
from pacspace_verify.offline import needs, run_offline_checks
from pacspace_verify.protocol import BATCH_ANCHORED_TOPIC, ZERO32, CheckResult, batch_commitment, hx, hx_opt


def check_chain_id(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = needs(b, chainId=b.chain_id)
    if skip or b.chain_id is None:
        return CheckResult("chain_id", False, skip or "")
    if isinstance(facts.chain_id, FetchError):
        return CheckResult("chain_id", False, facts.chain_id.message)
    if facts.chain_id != b.chain_id:
        return CheckResult("chain_id", False, f"RPC chain id is {facts.chain_id}, bundle chainId is {b.chain_id}")
    return CheckResult("chain_id", True, f"RPC is on chain {b.chain_id}")


def _contract_problem(facts: ChainFacts) -> str | None:
    if facts.contract is None:
        return "skipped: no contract to query (bundle contract malformed, none pinned)"
    if isinstance(facts.code_size, FetchError):
        return facts.code_size.message
    if facts.code_size == 0:
        return f"no contract code at {hx(facts.contract)} on this chain"
    return None


def check_anchorer(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = needs(b, signer=b.signer) or _contract_problem(facts)
    if skip or b.signer is None:
        return CheckResult("anchorer", False, skip or "")
    if b.protocol is not None and b.protocol.signer_window:
        return _check_signer_window(b, b.signer, facts)
    if isinstance(facts.is_anchorer, FetchError) or facts.is_anchorer is None:
        why = facts.is_anchorer.message if facts.is_anchorer else "isAnchorer not called"
        return CheckResult("anchorer", False, why)
    if isinstance(facts.protocol_version, int) and facts.protocol_version >= 2:
        return CheckResult(
            "anchorer",
            False,
            f"{hx_opt(facts.contract)} is a protocol v{facts.protocol_version} contract; a {b.version} bundle is "
            "only valid against a v1 contract (on v2, isAnchorer names gas wallets, not receipt signers)",
        )
    if not facts.is_anchorer:
        return CheckResult(
            "anchorer",
            False,
            f"isAnchorer({hx(b.signer)}) is false on {hx_opt(facts.contract)}: "
            "the signer is not (or no longer) an authorised anchorer",
        )
    return CheckResult("anchorer", True, f"{hx(b.signer)} is an authorised anchorer")


def _check_signer_window(b: Bundle, signer: bytes, facts: ChainFacts) -> CheckResult:
    """Protocol v2: the contract is v2 and its window for ``signer`` covers the bundle's log index."""
    if isinstance(facts.protocol_version, FetchError) or facts.protocol_version is None:
        return CheckResult("anchorer", False, facts.protocol_version.message if facts.protocol_version else "")
    if facts.protocol_version != 2:
        return CheckResult(
            "anchorer",
            False,
            f"{hx_opt(facts.contract)} is a protocol v{facts.protocol_version} contract; a {b.version} bundle "
            "needs a v2 contract's signer windows",
        )
    skip = needs(b, logIndex=b.log_index)
    if skip:
        return CheckResult("anchorer", False, skip)
    if isinstance(facts.signer_for, FetchError) or facts.signer_for is None:
        return CheckResult("anchorer", False, facts.signer_for.message if facts.signer_for else "")
    if not facts.signer_for:
        return CheckResult(
            "anchorer",
            False,
            f"isSignerFor({hx(signer)}, {b.log_index}) is false on {hx_opt(facts.contract)}: the contract never "
            "authorised this signer for that log index (a key revoked earlier, or never authorised)",
        )
    return CheckResult("anchorer", True, f"{hx(signer)} was an authorised receipt signer for log index {b.log_index}")


def check_commitment(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = needs(
        b, **{"batch.root": b.root, "batch.startIndex": b.start_index, "batch.count": b.count}
    ) or _contract_problem(facts)
    if skip or b.root is None or b.start_index is None or b.count is None:
        return CheckResult("commitment", False, skip or "")
    if isinstance(facts.commitment, FetchError) or facts.commitment is None:
        why = facts.commitment.message if facts.commitment else "batchCommitment not called"
        return CheckResult("commitment", False, why)
    want = batch_commitment(b.root, b.count)
    if facts.commitment == ZERO32:
        return CheckResult("commitment", False, f"no batch starts at log index {b.start_index} on the contract")
    if facts.commitment != want:
        return CheckResult(
            "commitment",
            False,
            f"batchCommitment({b.start_index}) is {hx(facts.commitment)}, expected "
            f"keccak256(abi.encode(root, {b.count})) = {hx(want)}",
        )
    if isinstance(facts.verify, FetchError) or facts.verify is None:
        why = facts.verify.message if facts.verify else "skipped verify(...): inputs malformed"
        return CheckResult("commitment", False, f"commitment matches but {why}")
    if not facts.verify:
        return CheckResult("commitment", False, "commitment matches but contract verify(...) returned false")
    return CheckResult(
        "commitment",
        True,
        f"batchCommitment({b.start_index}) = {hx(want)}; contract verify(...) is true",
    )


def _matching_event(b: Bundle, contract: bytes, receipt: TxReceipt) -> tuple[bool, str]:
    seen: list[str] = []
    for log in receipt.logs:
        if log.address != contract or not log.topics or log.topics[0] != BATCH_ANCHORED_TOPIC:
            continue
        if len(log.topics) != 4 or len(log.data) != 64:
            seen.append("malformed BatchAnchored log")
            continue
        batch_id = int.from_bytes(log.topics[1], "big")
        root = log.topics[2]
        start, count = int.from_bytes(log.data[:32], "big"), int.from_bytes(log.data[32:], "big")
        if start >= 2**64 or count >= 2**32:
            seen.append("malformed BatchAnchored log (startIndex or count out of range)")
            continue
        anchorer = hx(log.topics[3][12:])
        if (batch_id, root, start, count) == (b.batch_id, b.root, b.start_index, b.count):
            return True, f"BatchAnchored(id {batch_id}, start {start}, count {count}) by {anchorer}"
        seen.append(f"BatchAnchored(id {batch_id}, root {hx(root)}, start {start}, count {count})")
    if not seen:
        return False, f"the transaction emitted no BatchAnchored from {hx(contract)}"
    return False, (
        f"no BatchAnchored(id {b.batch_id}, root {hx_opt(b.root)}, start {b.start_index}, "
        f"count {b.count}); the transaction emitted {'; '.join(seen)}"
    )


def check_transaction(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = needs(
        b,
        **{
            "batch.txHash": b.tx_hash,
            "batch.blockNumber": b.block_number,
            "batch.blockHash": b.block_hash,
            "batch.id": b.batch_id,
            "batch.root": b.root,
            "batch.startIndex": b.start_index,
            "batch.count": b.count,
        },
    )
    if facts.contract is None and not skip:
        skip = "skipped: no contract (bundle contract malformed, none pinned)"
    if skip or b.tx_hash is None or facts.contract is None:
        return CheckResult("transaction", False, skip or "")
    if isinstance(facts.receipt, FetchError):
        return CheckResult("transaction", False, facts.receipt.message)
    if facts.receipt is None:
        return CheckResult("transaction", False, f"no receipt for {hx(b.tx_hash)} on this chain")
    r = facts.receipt
    bad: list[str] = []
    if r.status != 1:
        bad.append(f"status is {r.status} (reverted), expected 1")
    if r.to != facts.contract:
        bad.append(f"to is {hx_opt(r.to)}, expected the contract {hx(facts.contract)}")
    if r.block_number != b.block_number:
        bad.append(f"blockNumber is {r.block_number}, bundle says {b.block_number}")
    if r.block_hash != b.block_hash:
        bad.append(f"blockHash is {hx(r.block_hash)}, bundle says {hx_opt(b.block_hash)}")
    found, event = _matching_event(b, facts.contract, r)
    if not found:
        bad.append(event)
    if bad:
        return CheckResult("transaction", False, f"{hx(b.tx_hash)}: " + "; ".join(bad))
    return CheckResult("transaction", True, f"{hx(b.tx_hash)} in block {r.block_number} emitted {event}")


def check_block(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = needs(b, **{"batch.blockNumber": b.block_number, "batch.blockHash": b.block_hash})
    if skip or b.block_number is None or b.block_hash is None:
        return CheckResult("block", False, skip or "")
    if isinstance(facts.block_hash, FetchError):
        return CheckResult("block", False, facts.block_hash.message)
    if facts.block_hash is None:
        return CheckResult("block", False, f"the chain has no block {b.block_number} (yet)")
    if facts.block_hash != b.block_hash:
        return CheckResult(
            "block",
            False,
            f"block {b.block_number} is {hx(facts.block_hash)}, bundle blockHash is "
            f"{hx(b.block_hash)} (reorganised away?)",
        )
    return CheckResult("block", True, f"block {b.block_number} {hx(b.block_hash)} is canonical")


def check_confirmations(b: Bundle, facts: ChainFacts, required: int) -> CheckResult:
    skip = needs(b, **{"batch.blockNumber": b.block_number})
    if skip or b.block_number is None:
        return CheckResult("confirmations", False, skip or "")
    if isinstance(facts.head, FetchError) or facts.head is None:
        return CheckResult("confirmations", False, facts.head.message if facts.head else "")
    got = max(0, facts.head - b.block_number + 1)
    if got < required:
        return CheckResult(
            "confirmations",
            False,
            f"{got} confirmation(s) (head {facts.head}, block {b.block_number}), {required} required",
        )
    return CheckResult("confirmations", True, f"{got} confirmation(s) (head {facts.head}), {required} required")


def run_chain_checks(b: Bundle, facts: ChainFacts, required: int) -> list[CheckResult]:
    return [
        check_chain_id(b, facts),
        check_anchorer(b, facts),
        check_commitment(b, facts),
        check_transaction(b, facts),
        check_block(b, facts),
        check_confirmations(b, facts, required),
    ]


def run_all_checks(
    b: Bundle, chain: ChainSource, pinned_contract: bytes | None, required: int, fast: bool = False
) -> list[CheckResult]:
    contract = pinned_contract if pinned_contract is not None else b.contract
    facts = fetch_chain_facts(chain, b, contract)
    return run_offline_checks(b, pinned_contract, fast) + run_chain_checks(b, facts, required)
