"""Comparing a counterparty's view with the record (pure; the caller streams both sides in).

Matching is by referenceId. Record deltas that are not verified yet are listed apart and never
count as variance; neither do their references when the counterparty lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 1000  # per evidence list in a response; the evidence pack carries every item


@dataclass(frozen=True)
class Tolerance:
    """``absolute`` minor units and/or ``basis_points`` of the record balance; both must hold when both are set."""

    absolute: int | None = None
    basis_points: int | None = None

    def allows(self, variance: int, record_balance: int) -> bool:
        if self.absolute is None and self.basis_points is None:
            return variance == 0
        if self.absolute is not None and abs(variance) > self.absolute:
            return False
        # In integers: a Decimal limit is rounded to 28 digits, wrong for int256-scale balances.
        return self.basis_points is None or abs(variance) * 10_000 <= abs(record_balance) * self.basis_points

    def stricter(self, other: Tolerance | None) -> Tolerance:
        """The tighter of the two limits, field by field (a request may only tighten the tenant's)."""
        if other is None:
            return self

        def pick(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else min(a, b)

        return Tolerance(pick(self.absolute, other.absolute), pick(self.basis_points, other.basis_points))

    def to_json(self) -> dict[str, int | None]:
        return {"absolute": self.absolute, "basisPoints": self.basis_points}


@dataclass(frozen=True)
class RecordItem:
    reference_id: str
    amount: int
    customer_index: int
    verified: bool
    receipt_id: str = ""  # filled in by the caller for the items that end up in the evidence


@dataclass
class Evidence:
    only_in_record: list[RecordItem] = field(default_factory=list)
    only_in_theirs: list[str] = field(default_factory=list)
    amount_mismatch: list[tuple[RecordItem, int]] = field(default_factory=list)
    pending: list[RecordItem] = field(default_factory=list)


@dataclass
class Comparison:
    record_balance: int
    their_balance: int
    variance: int
    resolution: str  # match | auto_settled | needs_evidence
    evidence: Evidence
    matched: int

    def evidence_json(self) -> dict[str, Any]:
        """Every difference, as stored with the comparison (and listed, cut to MAX_LISTED, by the API)."""
        ev = self.evidence
        return {
            "onlyInRecord": [_item_json(i) for i in ev.only_in_record],
            "onlyInTheirs": ev.only_in_theirs,
            "amountMismatch": [
                {"referenceId": i.reference_id, "receiptId": i.receipt_id, "record": i.amount, "theirs": theirs}
                for i, theirs in ev.amount_mismatch
            ],
            "pending": [_item_json(i) for i in ev.pending],
            "counts": {
                "onlyInRecord": len(ev.only_in_record),
                "onlyInTheirs": len(ev.only_in_theirs),
                "amountMismatch": len(ev.amount_mismatch),
                "pending": len(ev.pending),
                "matched": self.matched,
            },
        }


def _item_json(item: RecordItem) -> dict[str, Any]:
    return {
        "receiptId": item.receipt_id,
        "referenceId": item.reference_id,
        "delta": item.amount,
        "customerIndex": item.customer_index,
    }


class DuplicateReference(ValueError):
    def __init__(self, reference_id: str, position: int) -> None:
        super().__init__(f"referenceId {reference_id!r} appears twice (again at item {position})")
        self.reference_id = reference_id
        self.position = position


def compare(
    record: Iterable[tuple[str, int, int, bool]],
    *,
    theirs: Iterator[tuple[str, int]] | None,
    their_balance: int | None,
    tolerance: Tolerance,
) -> Comparison:
    """``record`` yields (referenceId, amount, customerIndex, verified) in any order. Requires
    ``theirs`` or ``their_balance``. Raises DuplicateReference for a repeated referenceId in
    ``theirs``. With only ``their_balance``, ``only_in_record`` lists the verified record items
    newest first (what they may be missing).

    Memory: one dict entry (referenceId -> slot) and one amount per record delta; nothing per
    matched delta of theirs beyond the set that detects duplicates.
    """
    slot_of: dict[str, int] = {}
    amounts: list[int] = []
    indexes: list[int] = []
    evidence = Evidence()
    record_balance = 0
    for reference_id, amount, customer_index, verified in record:
        if verified:
            slot_of[reference_id] = len(amounts)
            amounts.append(amount)
            indexes.append(customer_index)
            record_balance += amount
        else:
            evidence.pending.append(RecordItem(reference_id, amount, customer_index, False))
    pending_refs = {p.reference_id for p in evidence.pending}
    matched = 0
    total = 0
    if theirs is not None:
        seen: set[str] = set()
        for position, (reference_id, amount) in enumerate(theirs):
            if reference_id in seen:
                raise DuplicateReference(reference_id, position)
            seen.add(reference_id)
            if reference_id in pending_refs:
                continue
            total += amount
            slot = slot_of.pop(reference_id, None)
            if slot is None:
                evidence.only_in_theirs.append(reference_id)
            elif amounts[slot] != amount:
                evidence.amount_mismatch.append((RecordItem(reference_id, amounts[slot], indexes[slot], True), amount))
            else:
                matched += 1
    evidence.only_in_record = sorted(
        (RecordItem(ref, amounts[slot], indexes[slot], True) for ref, slot in slot_of.items()),
        key=lambda i: -i.customer_index,
    )
    their = their_balance if their_balance is not None else total
    variance = their - record_balance
    differences = bool(evidence.only_in_theirs or evidence.amount_mismatch)
    if theirs is not None and evidence.only_in_record:
        differences = True
    if variance == 0 and not differences:
        resolution = "match"
    elif tolerance.allows(variance, record_balance):
        resolution = "auto_settled"
    else:
        resolution = "needs_evidence"
    return Comparison(record_balance, their, variance, resolution, evidence, matched)
