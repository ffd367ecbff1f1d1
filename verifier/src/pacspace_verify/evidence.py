"""The evidence pack's checks: format, arithmetic, coverage, items, bundles, resolution.

* ``format``: the pack's version, required fields and types (``evidence_pack``).
* ``arithmetic``: variance = theirBalance − recordBalance; each count is its list's length (v2: each
  list holds min(count, limit) items).
* ``coverage``: exactly one bundle per receipt named in onlyInRecord and amountMismatch, no other.
* ``items``: each of those items says what its signed bundle says (referenceId, the record's
  amount = message.delta, customerIndex, the comparison's customerId).
* ``bundles``: every bundle passes section 4's 14 checks, through ``ExportChecker.bundle_checks``
  (chain facts fetched once per batch, as ``derive`` does); each failure names its receipt.
* ``resolution``: ``match`` needs variance 0 and no onlyInTheirs/amountMismatch (v2: by the counts);
  ``auto_settled`` must be within tolerance, ``needs_evidence`` must not be; v2's ``within_tolerance``
  must be within tolerance and name no settlement receipt.

Every check runs; one whose inputs failed to parse fails with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pacspace_verify.bundle import Message, bundle_index
from pacspace_verify.chain import ChainSource
from pacspace_verify.derive import KEPT_FAILURES, ExportChecker
from pacspace_verify.evidence_pack import Item, Pack, within_tolerance
from pacspace_verify.protocol import CheckResult, describe

EVIDENCE_CHECKS = ("format", "arithmetic", "coverage", "items", "bundles", "resolution")
SHOWN = 10  # problems named in one check's detail


@dataclass(frozen=True)
class BundleFailure:
    """One failed section 4 check of one bundle of the pack."""

    position: int
    receipt_id: str | None
    customer_index: int | None
    check: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.position,
            "receiptId": self.receipt_id,
            "customerIndex": self.customer_index,
            "check": self.check,
            "detail": self.detail,
        }

    def describe(self) -> str:
        return f"✗ {self.receipt_id or '?'} (bundles[{self.position}]): {self.check}: {self.detail}"


@dataclass
class EvidenceOutcome:
    results: list[CheckResult]
    failures: list[BundleFailure] = field(default_factory=list)
    failure_count: int = 0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _skip(**inputs: object) -> str | None:
    missing = [name for name, value in inputs.items() if value is None]
    return f"skipped: {', '.join(missing)} missing or malformed (see format)" if missing else None


def _joined(problems: list[str]) -> str:
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    return f"{len(problems)} problem(s): {'; '.join(problems[:SHOWN])}{more}"


def check_pack_format(p: Pack) -> CheckResult:
    if p.problems:
        return CheckResult("format", False, _joined(p.problems))
    return CheckResult("format", True, f"{p.version} pack for {p.comparison_id}; all fields present and well-typed")


def check_arithmetic(p: Pack) -> CheckResult:
    bad: list[str] = []
    if p.record_balance is not None and p.their_balance is not None and p.variance is not None:
        want = p.their_balance - p.record_balance
        if p.variance != want:
            bad.append(
                f"variance is {p.variance}, theirBalance − recordBalance is {p.their_balance} − "
                f"{p.record_balance} = {want}"
            )
    lists = {"onlyInRecord": p.only_in_record, "onlyInTheirs": p.only_in_theirs}
    lists |= {"amountMismatch": p.amount_mismatch, "pending": p.pending}
    if p.counts is not None and (p.limit is not None or not p.bounded):
        for key, items in lists.items():
            want = p.counts[key] if p.limit is None else min(p.counts[key], p.limit)
            if items is not None and want != len(items):
                cut = "" if p.limit is None else f" (limit {p.limit}: it must hold {want})"
                bad.append(f"counts.{key} is {p.counts[key]}, the list holds {len(items)}{cut}")
    bounds = {"limit": p.limit} if p.bounded else {}
    skip = _skip(
        recordBalance=p.record_balance,
        theirBalance=p.their_balance,
        variance=p.variance,
        counts=p.counts,
        **bounds,
        **lists,
    )
    if bad or skip:
        return CheckResult("arithmetic", False, "; ".join(bad + ([skip] if skip else [])))
    assert p.counts is not None
    shown = ", ".join(f"{key} {p.counts[key]}" for key in lists)
    cut = "" if p.limit is None else f", each list cut to {p.limit}"
    return CheckResult(
        "arithmetic",
        True,
        f"variance {p.variance} = {p.their_balance} − {p.record_balance}; counts match the lists ({shown}{cut})",
    )


def check_coverage(p: Pack) -> CheckResult:
    disputed = p.disputed
    skip = _skip(onlyInRecord=p.only_in_record, amountMismatch=p.amount_mismatch, bundles=p.bundles)
    if skip or disputed is None or p.bundles is None:
        return CheckResult("coverage", False, skip or "")
    named: dict[str, list[str]] = {}
    for item in disputed:
        named.setdefault(item.receipt_id, []).append(item.where)
    held: dict[str, list[int]] = {}
    bad: list[str] = []
    for i, b in enumerate(p.bundles):
        if b.receipt_id is None:
            bad.append(f"bundles[{i}] has no readable receiptId")
        else:
            held.setdefault(b.receipt_id, []).append(i)
    for receipt_id, wheres in named.items():
        at = held.get(receipt_id, [])
        if len(wheres) > 1:
            bad.append(f"{receipt_id} is named {len(wheres)} times ({', '.join(wheres)})")
        if not at:
            bad.append(f"no bundle for {receipt_id} ({wheres[0]})")
        elif len(at) > 1:
            bad.append(f"{len(at)} bundles for {receipt_id} ({', '.join(f'bundles[{i}]' for i in at)})")
    for receipt_id, at in held.items():
        if receipt_id not in named:
            bad.append(f"bundles[{at[0]}] ({receipt_id}) is for no receipt of onlyInRecord or amountMismatch")
    if bad:
        return CheckResult("coverage", False, _joined(bad))
    return CheckResult(
        "coverage",
        True,
        f"{len(p.bundles)} bundle(s): one for each receipt of onlyInRecord ({len(p.only_in_record or [])}) "
        f"and amountMismatch ({len(p.amount_mismatch or [])}), none other",
    )


def _item_problems(p: Pack, item: Item, m: Message) -> list[str]:
    bad: list[str] = []
    if m.reference_id != item.reference_id:
        bad.append(f"referenceId {describe(item.reference_id)}, bundle's {describe(m.reference_id)}")
    if m.delta != item.amount:
        bad.append(f"{item.amount_field} {item.amount}, bundle's delta {m.delta}")
    if item.customer_index is not None and m.customer_index != item.customer_index:
        bad.append(f"customerIndex {item.customer_index}, bundle's {m.customer_index}")
    if p.customer_id is not None and m.customer_id != p.customer_id:
        bad.append(f"bundle's customerId {describe(m.customer_id)}, the comparison's {describe(p.customer_id)}")
    if p.as_of_index is not None and m.customer_index > p.as_of_index:
        bad.append(f"customerIndex {m.customer_index} is after asOf.customerIndex {p.as_of_index}")
    if item.theirs is not None and item.theirs == item.amount:
        bad.append(f"theirs equals record ({item.amount}): not a mismatch")
    return bad


def check_items(p: Pack) -> CheckResult:
    disputed = p.disputed
    skip = _skip(
        customerId=p.customer_id, onlyInRecord=p.only_in_record, amountMismatch=p.amount_mismatch, bundles=p.bundles
    )
    if skip or disputed is None or p.bundles is None:
        return CheckResult("items", False, skip or "")
    by_receipt = {b.receipt_id: b for b in reversed(p.bundles) if b.receipt_id is not None}  # the first wins
    bad: list[str] = []
    agreed = unbundled = 0
    for item in disputed:
        b = by_receipt.get(item.receipt_id)
        if b is None:
            unbundled += 1
        elif b.message is None:
            bad.append(f"{item.where} ({item.receipt_id}): the bundle's typedData.message is unreadable (see bundles)")
        elif problems := _item_problems(p, item, b.message):
            bad.append(f"{item.where} ({item.receipt_id}): {'; '.join(problems)}")
        else:
            agreed += 1
    if bad:
        return CheckResult("items", False, _joined(bad))
    without = f"; {unbundled} without a bundle (see coverage)" if unbundled else ""
    return CheckResult(
        "items",
        True,
        f"{agreed} disputed item(s) agree with their bundles (receiptId, referenceId, amount = delta, "
        f"customerIndex, customerId {describe(p.customer_id)}){without}",
    )


def check_bundles(p: Pack, checker: ExportChecker, outcome: EvidenceOutcome) -> CheckResult:
    """Section 4's checks of every bundle; each failure is kept in ``outcome`` (up to KEPT_FAILURES)."""
    if p.bundles is None:
        return CheckResult("bundles", False, _skip(bundles=None) or "")
    failed: list[str] = []
    for i, b in enumerate(p.bundles):
        fails = [r for r in checker.bundle_checks(b) if not r.ok]
        if not fails:
            continue
        failed.append(f"{b.receipt_id or f'bundles[{i}]'} ({', '.join(r.name for r in fails)})")
        for r in fails:
            outcome.failure_count += 1
            if len(outcome.failures) < KEPT_FAILURES:
                outcome.failures.append(BundleFailure(i, b.receipt_id, bundle_index(b), r.name, r.detail))
    if failed:
        more = f" (and {len(failed) - SHOWN} more)" if len(failed) > SHOWN else ""
        shown = "; ".join(failed[:SHOWN])
        return CheckResult("bundles", False, f"{len(failed)} of {len(p.bundles)} bundle(s) failed: {shown}{more}")
    if not p.bundles:
        return CheckResult("bundles", True, "no bundles: no record item is in dispute")
    return CheckResult(
        "bundles", True, f"all {len(p.bundles)} bundle(s) pass section 4's 14 checks, offline and on chain"
    )


def describe_tolerance(absolute: int | None, basis_points: int | None, record_balance: int | None) -> str:
    if absolute is None and basis_points is None:
        return "none set (only a variance of 0 is within)"
    parts = [] if absolute is None else [f"absolute {absolute}"]
    if basis_points is not None:
        limit = "?"
        if record_balance is not None:
            whole, rest = divmod(abs(record_balance) * basis_points, 10_000)
            limit = f"{whole}.{rest:04d}".rstrip("0").rstrip(".")
        parts.append(f"{basis_points} bp of |recordBalance| = {limit}")
    return " and ".join(parts)


def check_resolution(p: Pack) -> CheckResult:
    skip = _skip(
        resolution=p.resolution,
        variance=p.variance,
        recordBalance=p.record_balance,
        tolerance=p.tolerance,
        onlyInTheirs=p.only_in_theirs,
        amountMismatch=p.amount_mismatch,
    )
    if skip or p.variance is None or p.record_balance is None or p.tolerance is None:
        return CheckResult("resolution", False, skip or "")
    absolute, basis_points = p.tolerance
    tolerance = describe_tolerance(absolute, basis_points, p.record_balance)
    within = within_tolerance(p.variance, p.record_balance, absolute, basis_points)
    if p.resolution == "match":
        extra = len(p.only_in_theirs or [])
        mismatched = len(p.amount_mismatch or [])
        if p.bounded and p.counts is not None:  # v2 lists are cut: the counts say how many there were
            extra, mismatched = p.counts["onlyInTheirs"], p.counts["amountMismatch"]
        if p.variance != 0 or extra or mismatched:
            return CheckResult(
                "resolution",
                False,
                f"match, but the variance is {p.variance} with {extra} onlyInTheirs and "
                f"{mismatched} amountMismatch (a match needs 0 and none)",
            )
        return CheckResult("resolution", True, "match: variance 0, no onlyInTheirs or amountMismatch")
    if p.resolution == "within_tolerance" and p.settlement_receipt_id is not None:
        return CheckResult(
            "resolution",
            False,
            f"within_tolerance names settlement receipt {p.settlement_receipt_id}: a within_tolerance comparison "
            "settles nothing (auto_settled does)",
        )
    where = "within" if within else "beyond"
    settles_within = p.resolution in ("auto_settled", "within_tolerance")
    if within != settles_within:
        want = "within" if settles_within else "beyond"
        return CheckResult(
            "resolution",
            False,
            f"{p.resolution}, but the variance {p.variance} is {where} the tolerance ({tolerance}); "
            f"{p.resolution} needs it {want}",
        )
    settled = f"; settlement receipt {p.settlement_receipt_id}" if p.settlement_receipt_id else ""
    return CheckResult(
        "resolution", True, f"{p.resolution}: variance {p.variance} is {where} the tolerance ({tolerance}){settled}"
    )


def run_evidence_checks(p: Pack, chain: ChainSource, pinned: bytes | None, required: int) -> EvidenceOutcome:
    outcome = EvidenceOutcome([])
    checker = ExportChecker(chain, pinned, required)
    outcome.results = [
        check_pack_format(p),
        check_arithmetic(p),
        check_coverage(p),
        check_items(p),
        check_bundles(p, checker, outcome),
        check_resolution(p),
    ]
    return outcome


def pack_contract(p: Pack) -> bytes | None:
    """The contract the pack's bundles name (the first readable one), when none is pinned."""
    return next((b.contract for b in p.bundles or [] if b.contract is not None), None)


def pack_lines(p: Pack) -> list[str]:
    """The human summary printed before the checks."""
    as_of = "latest" if p.as_of_index is None else f"customerIndex {p.as_of_index}"
    lines = [
        f"comparison: {p.comparison_id or '?'} for customer {p.customer_id or '?'} (as of {as_of})",
        f"record balance: {p.record_balance}; their balance: {p.their_balance}; "
        f"variance (theirs − record): {p.variance}",
    ]
    tolerance = describe_tolerance(*p.tolerance, p.record_balance) if p.tolerance else "?"
    settled = f"; settlement receipt {p.settlement_receipt_id}" if p.settlement_receipt_id else ""
    lines.append(f"resolution: {p.resolution or '?'} (tolerance: {tolerance}){settled}")
    if p.counts is not None:
        lines.append("counts: " + ", ".join(f"{key} {n}" for key, n in p.counts.items()))
    lines.append(f"bundles: {'?' if p.bundles is None else len(p.bundles)}")
    return lines


def evidence_summary(p: Pack, outcome: EvidenceOutcome) -> str:
    failed = [r.name for r in outcome.results if not r.ok]
    if failed:
        n = len(outcome.results)
        return f"NOT VERIFIED: {len(failed)} of {n} checks failed ({', '.join(failed)})"
    return (
        f"verified: all {len(outcome.results)} checks passed; {len(p.bundles or [])} disputed record item(s) "
        f"proven on chain; variance {p.variance} ({p.resolution})"
    )
