"""The on-chain checks of a proof bundle (docs/PROTOCOL.md section 4): chain_id, anchorer,
commitment, transaction, block, confirmations.

Pure: they judge ``ChainFacts`` that the caller read from the chain (node.verification does,
through the node's own RPC). A read that failed is a ``FetchFailure`` and fails the check that
needed it, with its message.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.core.bundle_checks import CheckResult, missing, run_offline_checks
from node.core.bundle_reading import ReadBundle
from node.core.hashing import ZERO32, to_hex
from node.core.merkle import compute_batch_commitment


@dataclass(frozen=True)
class FetchFailure:
    """A chain read that failed; the check that needed it fails with this message."""

    message: str


@dataclass(frozen=True)
class AnchorEvent:
    """A ``BatchAnchored`` log of the anchor contract, decoded."""

    batch_id: int
    root: bytes
    start_index: int
    count: int
    anchorer: bytes


@dataclass(frozen=True)
class AnchorTransaction:
    """A mined transaction's receipt: where it landed and the contract's ``BatchAnchored`` logs."""

    status: int
    to: bytes | None
    block_number: int
    block_hash: bytes
    events: list[AnchorEvent]


@dataclass
class ChainFacts:
    """What the on-chain checks need. None: not asked (its input did not read), or, for
    ``transaction`` and ``block_hash``, not on this chain."""

    contract: bytes
    chain_id: int | FetchFailure | None = None
    code_size: int | FetchFailure | None = None
    is_anchorer: bool | FetchFailure | None = None
    commitment: bytes | FetchFailure | None = None
    verify: bool | FetchFailure | None = None
    transaction: AnchorTransaction | FetchFailure | None = None
    block_hash: bytes | FetchFailure | None = None
    head: int | FetchFailure | None = None


def _fail(name: str, why: str) -> CheckResult:
    return CheckResult(name, False, why)


def check_chain_id(b: ReadBundle, facts: ChainFacts) -> CheckResult:
    skip = missing(chainId=b.chain_id)
    if skip:
        return _fail("chain_id", skip)
    if isinstance(facts.chain_id, FetchFailure) or facts.chain_id is None:
        return _fail("chain_id", facts.chain_id.message if facts.chain_id else "the chain id was not read")
    if facts.chain_id != b.chain_id:
        return _fail("chain_id", f"the RPC is on chain {facts.chain_id}, the bundle says {b.chain_id}")
    return CheckResult("chain_id", True, f"the RPC is on chain {b.chain_id}")


def _no_contract(facts: ChainFacts) -> str | None:
    if isinstance(facts.code_size, FetchFailure):
        return facts.code_size.message
    if not facts.code_size:
        return f"no contract code at {to_hex(facts.contract)} on this chain"
    return None


def check_anchorer(b: ReadBundle, facts: ChainFacts) -> CheckResult:
    skip = missing(signer=b.signer) or _no_contract(facts)
    if skip or b.signer is None:
        return _fail("anchorer", skip or "")
    if isinstance(facts.is_anchorer, FetchFailure) or facts.is_anchorer is None:
        return _fail("anchorer", facts.is_anchorer.message if facts.is_anchorer else "isAnchorer was not asked")
    if not facts.is_anchorer:
        return _fail("anchorer", f"the contract does not (or no longer) authorise {to_hex(b.signer)}")
    return CheckResult("anchorer", True, f"the contract authorises {to_hex(b.signer)} as an anchorer")


def check_commitment(b: ReadBundle, facts: ChainFacts) -> CheckResult:
    skip = missing(root=b.root, startIndex=b.start_index, count=b.count) or _no_contract(facts)
    if skip or b.root is None or b.start_index is None or b.count is None:
        return _fail("commitment", skip or "")
    if isinstance(facts.commitment, FetchFailure) or facts.commitment is None:
        return _fail("commitment", facts.commitment.message if facts.commitment else "batchCommitment was not read")
    if facts.commitment == ZERO32:
        return _fail("commitment", f"the contract has no batch starting at log index {b.start_index}")
    expected = compute_batch_commitment(b.root, b.count)
    if facts.commitment != expected:
        return _fail(
            "commitment",
            f"the contract holds {to_hex(facts.commitment)} for start {b.start_index}, "
            f"not keccak256(root, {b.count}) = {to_hex(expected)}",
        )
    if isinstance(facts.verify, FetchFailure) or facts.verify is None:
        why = facts.verify.message if facts.verify else "verify(...) was not asked: its inputs did not read"
        return _fail("commitment", f"the commitment matches, but {why}")
    if not facts.verify:
        return _fail("commitment", "the commitment matches, but the contract's verify(...) says false")
    return CheckResult("commitment", True, f"the contract holds root and count at {b.start_index}; verify(...) is true")


def _event_problem(b: ReadBundle, tx: AnchorTransaction) -> str | None:
    wanted = (b.batch_id, b.root, b.start_index, b.count)
    if any((e.batch_id, e.root, e.start_index, e.count) == wanted for e in tx.events):
        return None
    if not tx.events:
        return "it emitted no BatchAnchored from the contract"
    return f"none of its BatchAnchored logs is batch {b.batch_id} of {b.count} from {b.start_index} with this root"


def check_transaction(b: ReadBundle, facts: ChainFacts) -> CheckResult:
    skip = missing(
        txHash=b.tx_hash,
        blockNumber=b.block_number,
        blockHash=b.block_hash,
        batchId=b.batch_id,
        root=b.root,
        startIndex=b.start_index,
        count=b.count,
    )
    if skip or b.tx_hash is None:
        return _fail("transaction", skip or "")
    tx = facts.transaction
    if isinstance(tx, FetchFailure):
        return _fail("transaction", tx.message)
    if tx is None:
        return _fail("transaction", f"{to_hex(b.tx_hash)} is not on this chain")
    wrong = []
    if tx.status != 1:
        wrong.append("it reverted")
    if tx.to != facts.contract:
        wrong.append(f"it was sent to {to_hex(tx.to) if tx.to else 'no address'}, not the contract")
    if tx.block_number != b.block_number or tx.block_hash != b.block_hash:
        wrong.append(f"it is in block {tx.block_number} {to_hex(tx.block_hash)}, not the bundle's")
    event = _event_problem(b, tx)
    if event:
        wrong.append(event)
    if wrong:
        return _fail("transaction", f"{to_hex(b.tx_hash)}: " + "; ".join(wrong))
    return CheckResult("transaction", True, f"{to_hex(b.tx_hash)} in block {tx.block_number} emitted this batch")


def check_block(b: ReadBundle, facts: ChainFacts) -> CheckResult:
    skip = missing(blockNumber=b.block_number, blockHash=b.block_hash)
    if skip or b.block_hash is None:
        return _fail("block", skip or "")
    if isinstance(facts.block_hash, FetchFailure):
        return _fail("block", facts.block_hash.message)
    if facts.block_hash is None:
        return _fail("block", f"the chain has no block {b.block_number} (yet)")
    if facts.block_hash != b.block_hash:
        return _fail("block", f"block {b.block_number} is {to_hex(facts.block_hash)} now: reorganised away?")
    return CheckResult("block", True, f"block {b.block_number} {to_hex(b.block_hash)} is on the canonical chain")


def check_confirmations(b: ReadBundle, facts: ChainFacts, required: int) -> CheckResult:
    skip = missing(blockNumber=b.block_number)
    if skip or b.block_number is None:
        return _fail("confirmations", skip or "")
    if isinstance(facts.head, FetchFailure) or facts.head is None:
        return _fail("confirmations", facts.head.message if facts.head else "the head block was not read")
    got = max(0, facts.head - b.block_number + 1)
    verdict = f"{got} confirmation(s) at head {facts.head}, {required} required"
    return CheckResult("confirmations", got >= required, verdict)


def run_chain_checks(b: ReadBundle, facts: ChainFacts, required: int) -> list[CheckResult]:
    return [
        check_chain_id(b, facts),
        check_anchorer(b, facts),
        check_commitment(b, facts),
        check_transaction(b, facts),
        check_block(b, facts),
        check_confirmations(b, facts, required),
    ]


def run_bundle_checks(b: ReadBundle, facts: ChainFacts, *, required_confirmations: int) -> list[CheckResult]:
    """All fourteen, in the verifier's order; the contract of ``facts`` is the one trusted."""
    return run_offline_checks(b, facts.contract) + run_chain_checks(b, facts, required_confirmations)
