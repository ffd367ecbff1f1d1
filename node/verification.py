"""Checking a proof bundle against the chain from inside the node (the dashboard's "verify").

It reads what node.core.chain_checks needs through the node's RPC and its configured contract
(the one trusted, as ``--contract`` pins it for the auditor's verifier), then runs the fourteen
checks. It never raises for a chain problem: an unreachable RPC fails the checks that needed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from web3.exceptions import BlockNotFound

from node.chain.client import AnchorClient
from node.core.bundle_checks import CheckResult
from node.core.bundle_reading import ReadBundle, read_bundle
from node.core.chain_checks import ChainFacts, FetchFailure, run_bundle_checks
from node.core.errors import ChainUnavailable
from node.core.hashing import from_hex

T = TypeVar("T")


def _ask(read: Callable[[], T], what: str) -> T | FetchFailure:
    try:
        return read()
    except ChainUnavailable as exc:
        return FetchFailure(f"{what}: {exc.detail}")
    except Exception as exc:
        return FetchFailure(f"{what} failed: {type(exc).__name__}: {exc}"[:300])


def _block_hash(chain: AnchorClient, number: int) -> bytes | None:
    try:
        return chain.block_hash_at(number)
    except BlockNotFound:
        return None


def read_chain_facts(chain: AnchorClient, b: ReadBundle) -> ChainFacts:
    """Everything the on-chain checks of ``b`` need, from the node's RPC; failures kept, not raised."""
    facts = ChainFacts(contract=from_hex(chain.address.lower(), length=20))
    try:
        facts.chain_id = chain.chain_id()
    except ChainUnavailable as exc:  # no answer at all: every on-chain check fails with the reason
        down = FetchFailure(exc.detail)
        facts.chain_id = facts.code_size = facts.is_anchorer = facts.commitment = facts.verify = down
        facts.transaction = facts.block_hash = facts.head = down
        return facts
    except Exception as exc:
        facts.chain_id = FetchFailure(f"eth_chainId failed: {type(exc).__name__}: {exc}"[:300])
    facts.code_size = _ask(chain.code_size, "eth_getCode")
    if b.signer is not None:
        signer = b.signer
        facts.is_anchorer = _ask(lambda: chain.is_anchorer(signer), "isAnchorer")
    if b.start_index is not None:
        start = b.start_index
        facts.commitment = _ask(lambda: chain.stored_commitment(start), "batchCommitment")
    if (
        b.start_index is not None
        and b.count is not None
        and b.root is not None
        and b.log_index is not None
        and b.fingerprint is not None
        and b.proof is not None
    ):
        start, count, root, log_index, fingerprint, proof = (
            b.start_index,
            b.count,
            b.root,
            b.log_index,
            b.fingerprint,
            b.proof,
        )
        facts.verify = _ask(
            lambda: chain.verify_on_chain(
                start_index=start, count=count, root=root, log_index=log_index, fingerprint=fingerprint, proof=proof
            ),
            "verify",
        )
    if b.tx_hash is not None:
        tx_hash = b.tx_hash
        facts.transaction = _ask(lambda: chain.anchor_transaction(tx_hash), "eth_getTransactionReceipt")
    if b.block_number is not None:
        number = b.block_number
        facts.block_hash = _ask(lambda: _block_hash(chain, number), "eth_getBlockByNumber")
    facts.head = _ask(chain.head_block_number, "eth_blockNumber")
    return facts


def verify_bundle(bundle: object, chain: AnchorClient, *, required_confirmations: int) -> list[CheckResult]:
    """The fourteen checks of a decoded proof bundle, in the order the verifier script prints them."""
    read = read_bundle(bundle)
    return run_bundle_checks(read, read_chain_facts(chain, read), required_confirmations=required_confirmations)
