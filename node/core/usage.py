"""Usage accounting that is pure arithmetic: sharing a batch's gas among the tenants in it,
and the cost per verified delta, in wei and in fiat. Integers and Decimals only, no floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

WEI_PER_ETHER = 10**18


@dataclass(frozen=True)
class BatchShare:
    """One batch as seen by one tenant: its gas, the gas price, its size, the tenant's part, and the
    L1 data fee a rollup charged on top of gas."""

    gas_used: int
    effective_gas_price: int
    batch_count: int
    tenant_count: int
    l1_fee: int = 0


def attributed_gas(share: BatchShare) -> int:
    """The tenant's share of the batch's gas, proportional to its deltas (floor)."""
    return share.gas_used * share.tenant_count // share.batch_count


def attributed_wei(share: BatchShare) -> int:
    """The tenant's share of everything the batch cost (gas and L1 data fee), proportional to its deltas."""
    total = share.gas_used * share.effective_gas_price + share.l1_fee
    return total * share.tenant_count // share.batch_count


def cost_per_delta_wei(cost_wei: int, deltas: int) -> int | None:
    return None if deltas == 0 else cost_wei // deltas


def wei_to_fiat(wei: int, native_price: Decimal, places: int = 8) -> Decimal:
    """Fiat value of ``wei`` at ``native_price`` fiat per whole native coin, rounded half-even."""
    value = Decimal(wei) * native_price / Decimal(WEI_PER_ETHER)
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
