"""A comparison's evidence pack (``GET /v1/comparisons/{id}/evidence``) parsed into typed fields.

The pack holds the comparison (``customerId``, ``asOf``, the record's and their balance,
``variance`` = theirs − record, the tolerance, the resolution), its difference lists with their
counts, and a proof bundle (section 4) for every record item listed in dispute: each of
``onlyInRecord`` and ``amountMismatch``. Integers are JSON numbers of any size. Two formats:
``pacspace.evidence.v1`` lists every difference (each count is its list's length);
``pacspace.evidence.v2`` keeps at most ``evidence.limit`` items per list, the counts complete, and
knows the resolution ``within_tolerance`` (within tolerance, compared by a key that may not settle).
Parsing never raises: a field that is missing or malformed is left None and the reason is
recorded in ``Pack.problems`` (the ``format`` check); ``evidence`` holds the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pacspace_verify.bundle import Bundle, parse_bundle
from pacspace_verify.protocol import describe, is_int

EVIDENCE_V1 = "pacspace.evidence.v1"
EVIDENCE_V2 = "pacspace.evidence.v2"
EVIDENCE_VERSIONS = (EVIDENCE_V1, EVIDENCE_V2)
RESOLUTIONS = {
    EVIDENCE_V1: ("match", "auto_settled", "needs_evidence"),
    EVIDENCE_V2: ("match", "auto_settled", "within_tolerance", "needs_evidence"),
}
LISTS = ("onlyInRecord", "onlyInTheirs", "amountMismatch", "pending")
COUNTS = (*LISTS, "matched")


@dataclass(frozen=True)
class Item:
    """A record item the pack names; ``amount`` is its ``delta`` (or ``record`` in amountMismatch)."""

    where: str
    receipt_id: str
    reference_id: str
    amount: int
    customer_index: int | None
    theirs: int | None = None

    @property
    def amount_field(self) -> str:
        return "record" if self.theirs is not None else "delta"


@dataclass
class Pack:
    """A parsed pack: a field is None when it is missing or malformed (see ``problems``)."""

    version: str | None = None
    comparison_id: str | None = None
    customer_id: str | None = None
    as_of_index: int | None = None
    record_balance: int | None = None
    their_balance: int | None = None
    variance: int | None = None
    tolerance: tuple[int | None, int | None] | None = None  # (absolute, basisPoints)
    resolution: str | None = None
    settlement_receipt_id: str | None = None
    only_in_record: list[Item] | None = None
    only_in_theirs: list[str] | None = None
    amount_mismatch: list[Item] | None = None
    pending: list[Item] | None = None
    counts: dict[str, int] | None = None
    limit: int | None = None  # v2: items kept per list
    bundles: list[Bundle] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def bounded(self) -> bool:
        """A v2 pack: lists cut to ``limit``, counts complete."""
        return self.version == EVIDENCE_V2

    @property
    def disputed(self) -> list[Item] | None:
        if self.only_in_record is None or self.amount_mismatch is None:
            return None
        return self.only_in_record + self.amount_mismatch

    def to_json(self) -> dict[str, Any]:
        """The comparison as read (integers as decimal strings, as ``derive`` reports balances)."""

        def text(value: int | None) -> str | None:
            return None if value is None else str(value)

        absolute, basis_points = self.tolerance or (None, None)
        return {
            "comparisonId": self.comparison_id,
            "customerId": self.customer_id,
            "asOfCustomerIndex": self.as_of_index,
            "recordBalance": text(self.record_balance),
            "theirBalance": text(self.their_balance),
            "variance": text(self.variance),
            "tolerance": {"absolute": text(absolute), "basisPoints": basis_points},
            "resolution": self.resolution,
            "settlementReceiptId": self.settlement_receipt_id,
            "counts": self.counts,
            "limit": self.limit,
            "bundles": None if self.bundles is None else len(self.bundles),
        }


class _Reader:
    """Typed access to the pack's JSON that records each problem instead of raising."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def fail(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def value(self, obj: dict[str, Any], key: str, path: str) -> tuple[bool, Any]:
        if key not in obj:
            self.fail(path, "missing")
            return False, None
        return True, obj[key]

    def text(self, obj: dict[str, Any], key: str, path: str, nullable: bool = False) -> str | None:
        present, value = self.value(obj, key, path)
        if not present or (nullable and value is None):
            return None
        if not isinstance(value, str):
            self.fail(path, f"expected a string{' or null' if nullable else ''}, got {describe(value)}")
            return None
        return value

    def integer(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        bits: int | None = None,
        signed: bool = True,
        nullable: bool = False,
    ) -> int | None:
        present, value = self.value(obj, key, path)
        if not present or (nullable and value is None):
            return None
        if not is_int(value):
            self.fail(path, f"expected a JSON integer{' or null' if nullable else ''}, got {describe(value)}")
            return None
        low = -(2 ** (bits - 1)) if bits and signed else None if signed else 0
        high = (2 ** (bits - 1) if signed else 2**bits) if bits else None
        if (low is not None and value < low) or (high is not None and value >= high):
            kind = f"{'int' if signed else 'uint'}{bits}" if bits else "a non-negative integer"
            self.fail(path, f"{describe(value)} is outside the range of {kind}")
            return None
        return int(value)

    def container(self, obj: dict[str, Any], key: str, path: str, kind: type) -> Any:
        present, value = self.value(obj, key, path)
        if present and not isinstance(value, kind):
            self.fail(path, f"expected a JSON {'object' if kind is dict else 'array'}, got {describe(value)}")
            return None
        return value


def _items(r: _Reader, evidence: dict[str, Any], key: str, mismatch: bool = False) -> list[Item] | None:
    array = r.container(evidence, key, f"evidence.{key}", list)
    if array is None:
        return None
    items: list[Item] = []
    for i, raw in enumerate(array):
        where = f"{key}[{i}]"
        path = f"evidence.{where}"
        if not isinstance(raw, dict):
            r.fail(path, f"expected a JSON object, got {describe(raw)}")
            continue
        receipt_id = r.text(raw, "receiptId", f"{path}.receiptId")
        reference_id = r.text(raw, "referenceId", f"{path}.referenceId")
        amount = r.integer(raw, "record" if mismatch else "delta", f"{path}.{'record' if mismatch else 'delta'}", 256)
        theirs = r.integer(raw, "theirs", f"{path}.theirs", 256) if mismatch else None
        indexed = not mismatch or "customerIndex" in raw  # amountMismatch items need not carry it
        index = r.integer(raw, "customerIndex", f"{path}.customerIndex", 64, signed=False) if indexed else None
        if receipt_id is None or reference_id is None or amount is None:
            continue
        if (mismatch and theirs is None) or (indexed and index is None):
            continue
        items.append(Item(where, receipt_id, reference_id, amount, index, theirs))
    return items if len(items) == len(array) else None


def _parse_comparison(r: _Reader, p: Pack, c: dict[str, Any]) -> None:
    p.comparison_id = r.text(c, "comparisonId", "comparison.comparisonId")
    p.customer_id = r.text(c, "customerId", "comparison.customerId")
    as_of = r.container(c, "asOf", "comparison.asOf", dict)
    if as_of is not None:
        p.as_of_index = r.integer(as_of, "customerIndex", "comparison.asOf.customerIndex", 64, False, nullable=True)
    p.record_balance = r.integer(c, "recordBalance", "comparison.recordBalance")
    p.their_balance = r.integer(c, "theirBalance", "comparison.theirBalance")
    p.variance = r.integer(c, "variance", "comparison.variance")
    tolerance = r.container(c, "tolerance", "comparison.tolerance", dict)
    if tolerance is not None:
        before = len(r.problems)
        absolute = r.integer(tolerance, "absolute", "comparison.tolerance.absolute", signed=False, nullable=True)
        bp = r.integer(tolerance, "basisPoints", "comparison.tolerance.basisPoints", signed=False, nullable=True)
        if len(r.problems) == before:
            p.tolerance = (absolute, bp)
    resolution = r.text(c, "resolution", "comparison.resolution")
    known = RESOLUTIONS.get(p.version or "", RESOLUTIONS[EVIDENCE_V1])
    if resolution is not None and resolution not in known:
        r.fail("comparison.resolution", f"expected one of {', '.join(known)}, got {describe(resolution)}")
    elif resolution is not None:
        p.resolution = resolution
    p.settlement_receipt_id = r.text(c, "settlementReceiptId", "comparison.settlementReceiptId", nullable=True)


def _parse_evidence(r: _Reader, p: Pack, e: dict[str, Any]) -> None:
    p.only_in_record = _items(r, e, "onlyInRecord")
    theirs = r.container(e, "onlyInTheirs", "evidence.onlyInTheirs", list)
    if theirs is not None:
        for i, ref in enumerate(theirs):
            if not isinstance(ref, str):
                r.fail(f"evidence.onlyInTheirs[{i}]", f"expected a referenceId string, got {describe(ref)}")
        p.only_in_theirs = theirs if all(isinstance(ref, str) for ref in theirs) else None
    p.amount_mismatch = _items(r, e, "amountMismatch", mismatch=True)
    p.pending = _items(r, e, "pending")
    if p.bounded:
        limit = r.integer(e, "limit", "evidence.limit", 64, signed=False)
        if limit is not None and limit < 1:
            r.fail("evidence.limit", "must be at least 1")
        else:
            p.limit = limit
    counts = r.container(e, "counts", "evidence.counts", dict)
    if counts is not None:
        read = {key: r.integer(counts, key, f"evidence.counts.{key}", signed=False) for key in COUNTS}
        p.counts = {key: n for key, n in read.items() if n is not None} if None not in read.values() else None


def parse_pack(raw: object, duplicate_keys: list[str] | None = None) -> Pack:
    """Parse a decoded pack; every problem is recorded, never raised. Bundles are parsed by
    ``parse_bundle``: their own problems are the ``bundles`` check's, not ``format``'s."""
    p = Pack()
    r = _Reader(p.problems)
    for key in duplicate_keys or []:
        r.fail(key, "duplicate JSON key (the pack is ambiguous)")
    if not isinstance(raw, dict):
        r.fail("pack", f"expected a JSON object, got {describe(raw)}")
        return p
    p.version = r.text(raw, "version", "version")
    if p.version is not None and p.version not in EVIDENCE_VERSIONS:
        r.fail("version", f"unknown version {p.version!r} (this verifier knows {', '.join(EVIDENCE_VERSIONS)})")
    comparison = r.container(raw, "comparison", "comparison", dict)
    if comparison is not None:
        _parse_comparison(r, p, comparison)
    evidence = r.container(raw, "evidence", "evidence", dict)
    if evidence is not None:
        _parse_evidence(r, p, evidence)
    bundles = r.container(raw, "bundles", "bundles", list)
    if bundles is not None:
        p.bundles = [parse_bundle(b) for b in bundles]
    return p


def within_tolerance(variance: int, record_balance: int, absolute: int | None, basis_points: int | None) -> bool:
    """``absolute``: |variance| ≤ absolute; ``basisPoints``: |variance| ≤ |record|·bp/10000 (exact);
    both must hold when both are set; with neither, only 0 is within."""
    if absolute is None and basis_points is None:
        return variance == 0
    if absolute is not None and abs(variance) > absolute:
        return False
    return basis_points is None or abs(variance) * 10_000 <= abs(record_balance) * basis_points
