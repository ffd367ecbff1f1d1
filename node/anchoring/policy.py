"""What the anchoring job is told (``AnchorPolicy``) and what one cycle did (``CycleReport``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core.fees import FeePolicy
from node.core.finality import FinalityMode, FinalityRule

# Why a cycle sent nothing although deltas wait (CycleReport.held).
HELD_FEES = "fees_above_cap"
HELD_BUDGET = "daily_budget_spent"


@dataclass(frozen=True)
class AnchorPolicy:
    max_batch_size: int = 10_000
    confirmations: int = 1
    receipt_timeout: float = 30.0
    poll_interval: float = 0.05
    finality: FinalityMode = FinalityMode.CONFIRMATIONS
    # Providers that must each place a batch's transaction in its block, final by their own view,
    # before it is verified (1: the provider that answered is enough).
    quorum: int = 1
    fees: FeePolicy = field(default_factory=FeePolicy)

    @property
    def rule(self) -> FinalityRule:
        return FinalityRule(self.finality, self.confirmations)


@dataclass
class CycleReport:
    batches_prepared: int = 0
    batches_anchored: int = 0
    batches_verified: int = 0
    deltas_verified: int = 0
    reorged: int = 0
    gas_used: int = 0
    cost_wei: int = 0
    head_block: int | None = None
    finalized_block: int | None = None
    base_fee: int | None = None
    # Set when deltas wait but nothing was sent: HELD_FEES or HELD_BUDGET.
    held: str | None = None
    # Stuck transactions left as they are because a replacement would have passed a fee cap.
    replacements_capped: int = 0
    # Why the oldest anchored batch is not verified yet ("not_final", "quorum", "providers_disagree").
    waiting: str | None = None
    disagreeing: tuple[str, ...] = ()
