"""When an anchored batch counts as ``verified``: the finality rule per chain, and the agreement of providers.

Two rules: *confirmations* (the batch's block is N blocks deep, counting itself) and *finalized* (the
block is at or below the chain's ``finalized`` block tag, which Ethereum, OP Stack and Arbitrum nodes
serve). ``KNOWN_CHAINS`` holds the default rule of each chain id the node knows (docs/DEPLOYMENT.md
lists them); an unknown chain uses confirmations.

A batch is verified only when enough providers (``quorum``) independently report its transaction in
the block the node recorded, each deep enough by its own view of the chain, and no provider reports
it in another block: one lying or stale RPC cannot make the node claim an anchor that is not there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class FinalityMode(StrEnum):
    CONFIRMATIONS = "confirmations"
    FINALIZED = "finalized"


class L1FeeModel(StrEnum):
    """How the chain charges for its L1 data, as far as the cost per delta is concerned."""

    NONE = "none"  # an L1, or a chain that charges only gas
    OP_STACK = "op_stack_receipt_l1fee"  # OP Stack: paid on top of gas, read from the receipt's ``l1Fee``
    IN_GAS = "included_in_gas_used"  # Arbitrum: the L1 part is already in ``gasUsed`` (``gasUsedForL1``)


@dataclass(frozen=True)
class KnownChain:
    name: str
    mode: FinalityMode
    confirmations: int  # the depth to use when the operator picks the confirmations rule on this chain
    l1_fee: L1FeeModel = L1FeeModel.NONE


_F, _C = FinalityMode.FINALIZED, FinalityMode.CONFIRMATIONS
_OP, _ARB = L1FeeModel.OP_STACK, L1FeeModel.IN_GAS
KNOWN_CHAINS: dict[int, KnownChain] = {
    1: KnownChain("Ethereum mainnet", _F, 64),
    11155111: KnownChain("Sepolia", _F, 64),
    17000: KnownChain("Holesky", _F, 64),
    560048: KnownChain("Hoodi", _F, 64),
    10: KnownChain("OP Mainnet", _F, 30, _OP),
    8453: KnownChain("Base", _F, 30, _OP),
    11155420: KnownChain("OP Sepolia", _F, 30, _OP),
    84532: KnownChain("Base Sepolia", _F, 30, _OP),
    42161: KnownChain("Arbitrum One", _F, 40, _ARB),
    42170: KnownChain("Arbitrum Nova", _F, 40, _ARB),
    421614: KnownChain("Arbitrum Sepolia", _F, 40, _ARB),
    137: KnownChain("Polygon PoS", _C, 128),
    31337: KnownChain("Anvil / Hardhat (development)", _C, 1),
    1337: KnownChain("development chain", _C, 1),
}


@dataclass(frozen=True)
class FinalityRule:
    mode: FinalityMode = FinalityMode.CONFIRMATIONS
    confirmations: int = 1

    def __post_init__(self) -> None:
        if self.confirmations < 1:
            raise ValueError("confirmations must be at least 1")

    def describe(self) -> str:
        if self.mode == FinalityMode.FINALIZED:
            return "at or below the finalized block"
        return f"{self.confirmations} confirmation{'s' if self.confirmations != 1 else ''}"


def default_rule(chain_id: int, *, mode: str | None = None, confirmations: int | None = None) -> FinalityRule:
    """The rule for ``chain_id``: ``mode`` and ``confirmations`` as configured, else the known chain's
    default, else confirmations (1 unless configured)."""
    known = KNOWN_CHAINS.get(chain_id)
    chosen = FinalityMode(mode) if mode not in (None, "auto") else (known.mode if known else FinalityMode.CONFIRMATIONS)
    depth = confirmations if confirmations is not None else (known.confirmations if known else 1)
    return FinalityRule(chosen, depth)


def is_settled(rule: FinalityRule, *, block_number: int, head: int | None, finalized: int | None) -> bool:
    """Whether a block at ``block_number`` is final by ``rule``, seen from a provider at ``head`` whose
    finalized block is ``finalized`` (None: unknown or not served)."""
    if rule.mode == FinalityMode.FINALIZED:
        return finalized is not None and block_number <= finalized
    return head is not None and head - block_number + 1 >= rule.confirmations


@dataclass(frozen=True)
class ProviderReport:
    """What one provider says about an anchor transaction: the block its receipt names (None: no receipt
    there), its head and its finalized block."""

    provider: str
    block_number: int | None
    block_hash: bytes | None
    head: int | None
    finalized: int | None


@dataclass(frozen=True)
class Settlement:
    verified: bool
    agreeing: tuple[str, ...]
    conflicting: tuple[str, ...]
    reason: str | None  # why not verified: "not_final", "quorum", "providers_disagree"


def decide_settlement(
    rule: FinalityRule,
    *,
    block_number: int,
    block_hash: bytes,
    reports: Sequence[ProviderReport],
    quorum: int,
) -> Settlement:
    """Verified when at least ``quorum`` providers place the transaction in ``block_hash`` at ``block_number``
    and find that block final by ``rule``, and none places it in another block. Requires quorum >= 1."""
    if quorum < 1:
        raise ValueError("quorum must be at least 1")
    same = [r for r in reports if r.block_hash == block_hash and r.block_number == block_number]
    agreeing = tuple(
        r.provider for r in same if is_settled(rule, block_number=block_number, head=r.head, finalized=r.finalized)
    )
    conflicting = tuple(r.provider for r in reports if r.block_hash is not None and r.block_hash != block_hash)
    if conflicting:
        return Settlement(False, agreeing, conflicting, "providers_disagree")
    if len(agreeing) >= quorum:
        return Settlement(True, agreeing, conflicting, None)
    return Settlement(False, agreeing, conflicting, "not_final" if len(same) >= quorum else "quorum")
