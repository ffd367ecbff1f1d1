"""Comparing a counterparty's view with the record (pure; the caller streams both sides in).

Matching is by referenceId. Record deltas that are not verified yet are listed apart and never
count as variance; neither do their references when the counterparty lists them.

Evidence is bounded: each list keeps at most ``EVIDENCE_LIMIT`` items (the first found; for
``onlyInRecord`` the newest), and ``counts`` says how many there were in all. That is what evidence
pack v2 (``pacspace.evidence.v2``, docs/PROTOCOL.md) carries, whatever the size of the views.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

EVIDENCE_LIMIT = 1000  # items kept per evidence list (the counts are complete)
MAX_LISTED = EVIDENCE_LIMIT  # per evidence list in a response (v1 comparisons stored every item)
LISTS = ("onlyInRecord", "onlyInTheirs", "amountMismatch", "pending")


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
    """The differences, each list cut to ``limit`` items; ``counts`` holds every list's full length."""

    only_in_record: list[RecordItem] = field(default_factory=list)
    only_in_theirs: list[str] = field(default_factory=list)
    amount_mismatch: list[tuple[RecordItem, int]] = field(default_factory=list)
    pending: list[RecordItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LISTS, 0))
    limit: int = EVIDENCE_LIMIT

    def keep(self, key: str, items: list[Any], item: Any) -> None:
        """Count ``item`` under ``key``; keep it while the list is below the limit."""
        self.counts[key] += 1
        if len(items) < self.limit:
            items.append(item)


@dataclass
class Comparison:
    record_balance: int
    their_balance: int
    variance: int
    resolution: str  # match | within_tolerance | needs_evidence (the service settles within_tolerance)
    evidence: Evidence
    matched: int
    record_head: int | None = None  # the highest verified customerIndex compared (None: none)

    def evidence_json(self) -> dict[str, Any]:
        """The bounded evidence of pack v2, as stored with the comparison and returned by the API."""
        ev = self.evidence
        return {
            "limit": ev.limit,
            "onlyInRecord": [_item_json(i) for i in ev.only_in_record],
            "onlyInTheirs": ev.only_in_theirs,
            "amountMismatch": [
                {"referenceId": i.reference_id, "receiptId": i.receipt_id, "record": i.amount, "theirs": theirs}
                for i, theirs in ev.amount_mismatch
            ],
            "pending": [_item_json(i) for i in ev.pending],
            "counts": {**ev.counts, "matched": self.matched},
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
    limit: int = EVIDENCE_LIMIT,
) -> Comparison:
    """``record`` yields (referenceId, amount, customerIndex, verified) in any order. Requires
    ``theirs`` or ``their_balance``. Raises DuplicateReference for a repeated referenceId in
    ``theirs``. With only ``their_balance``, ``only_in_record`` lists the verified record items
    newest first (what they may be missing). Each evidence list keeps at most ``limit`` items.

    Memory: one dict entry (referenceId -> slot) and one amount per record delta; nothing per
    matched delta of theirs beyond the set that detects duplicates.
    """
    slot_of: dict[str, int] = {}
    amounts: list[int] = []
    indexes: list[int] = []
    evidence = Evidence(limit=limit)
    pending_refs: set[str] = set()
    record_balance = 0
    head: int | None = None
    for reference_id, amount, customer_index, verified in record:
        if verified:
            slot_of[reference_id] = len(amounts)
            amounts.append(amount)
            indexes.append(customer_index)
            record_balance += amount
            head = customer_index if head is None else max(head, customer_index)
        else:
            pending_refs.add(reference_id)
            evidence.keep("pending", evidence.pending, RecordItem(reference_id, amount, customer_index, False))
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
                evidence.keep("onlyInTheirs", evidence.only_in_theirs, reference_id)
            elif amounts[slot] != amount:
                item = RecordItem(reference_id, amounts[slot], indexes[slot], True)
                evidence.keep("amountMismatch", evidence.amount_mismatch, (item, amount))
            else:
                matched += 1
    evidence.counts["onlyInRecord"] = len(slot_of)
    newest = heapq.nlargest(limit, slot_of.items(), key=lambda pair: indexes[pair[1]])
    evidence.only_in_record = [RecordItem(ref, amounts[slot], indexes[slot], True) for ref, slot in newest]
    their = their_balance if their_balance is not None else total
    variance = their - record_balance
    differences = bool(evidence.counts["onlyInTheirs"] or evidence.counts["amountMismatch"])
    if theirs is not None and evidence.counts["onlyInRecord"]:
        differences = True
    if variance == 0 and not differences:
        resolution = "match"
    elif tolerance.allows(variance, record_balance):
        resolution = "within_tolerance"
    else:
        resolution = "needs_evidence"
    return Comparison(record_balance, their, variance, resolution, evidence, matched, head)
