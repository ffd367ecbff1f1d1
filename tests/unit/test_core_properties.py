"""Hypothesis properties of the core: trees, chain replay and reconciliation."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from node.core.compare import Tolerance, compare
from node.core.merkle import MerkleTree, compute_leaf_hash, compute_root_from_proof

fingerprints = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(fps=fingerprints, start=st.integers(0, 2**63))
def test_every_proof_leads_to_the_root_and_no_other_leaf_does(fps: list[bytes], start: int) -> None:
    leaves = [compute_leaf_hash(start + i, fp) for i, fp in enumerate(fps)]
    tree = MerkleTree.build(leaves)
    for i, leaf in enumerate(leaves):
        proof = tree.proof(i)
        assert compute_root_from_proof(leaf, proof) == tree.root
        other = compute_leaf_hash(start + i + len(fps), fps[i])  # same fingerprint, another log index
        assert compute_root_from_proof(other, proof) != tree.root


INT256 = st.integers(-(2**255), 2**255 - 1)
amounts = st.one_of(st.integers(-1000, 1000), INT256)  # small ones collide; int256 ones test the scale
records = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.tuples(amounts, st.booleans()), max_size=30)
theirs_views = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), amounts, max_size=30)


def _within(variance: int, record_balance: int, absolute: int | None, basis_points: int | None) -> bool:
    """The tolerance rule in integers: every limit that is set holds; with none set, only no variance."""
    if absolute is None and basis_points is None:
        return variance == 0
    if absolute is not None and abs(variance) > absolute:
        return False
    return basis_points is None or abs(variance) * 10_000 <= abs(record_balance) * basis_points


@settings(max_examples=200, deadline=None)
@given(record=records, theirs=theirs_views, absolute=st.one_of(st.none(), st.integers(0, 500), INT256.map(abs)))
def test_reconciliation_accounts_for_every_reference(
    record: dict[str, tuple[int, bool]], theirs: dict[str, int], absolute: int | None
) -> None:
    rows = [(ref, amount, index, verified) for index, (ref, (amount, verified)) in enumerate(record.items())]
    result = compare(rows, theirs=iter(theirs.items()), their_balance=None, tolerance=Tolerance(absolute))
    ev = result.evidence
    verified = {ref: amount for ref, (amount, ok) in record.items() if ok}
    pending = {ref for ref, (_amount, ok) in record.items() if not ok}
    counted = {ref: amount for ref, amount in theirs.items() if ref not in pending}
    assert result.record_balance == sum(verified.values())
    assert result.their_balance == sum(counted.values())
    assert result.variance == result.their_balance - result.record_balance
    # Every verified record item is matched, mismatched or missing from theirs: exactly one of them.
    mismatched = {i.reference_id for i, _ in ev.amount_mismatch}
    missing = {i.reference_id for i in ev.only_in_record}
    assert result.matched + len(mismatched) + len(missing) == len(verified)
    assert set(ev.only_in_theirs) == set(counted) - set(verified)
    assert {p.reference_id for p in ev.pending} == pending
    if result.resolution == "match":
        assert result.variance == 0 and not mismatched and not missing and not ev.only_in_theirs
    # Both directions: what is not a match settles exactly when the tolerance allows its variance.
    if result.resolution != "match":
        settled = result.resolution == "within_tolerance"
        assert settled == _within(result.variance, result.record_balance, absolute, None), result.resolution


@settings(max_examples=400, deadline=None)
@given(
    record_balance=INT256,
    absolute=st.one_of(st.none(), st.integers(0, 1000), INT256.map(abs)),
    basis_points=st.one_of(st.none(), st.integers(0, 10_000)),
    where=st.sampled_from(["at the limit", "just past it", "anywhere"]),
    sign=st.sampled_from([1, -1]),
    anywhere=INT256,
)
@example(record_balance=10**70 + 1, absolute=None, basis_points=10_000, where="at the limit", sign=1, anywhere=0)
@example(record_balance=-(10**70) - 1, absolute=None, basis_points=1, where="just past it", sign=-1, anywhere=0)
def test_a_variance_settles_exactly_when_every_set_limit_allows_it(
    record_balance: int, absolute: int | None, basis_points: int | None, where: str, sign: int, anywhere: int
) -> None:
    """Either way round (theirs above or below the record), at int256 scale, on both sides of each limit."""
    limits = [
        limit
        for limit in (absolute, None if basis_points is None else abs(record_balance) * basis_points // 10_000)
        if limit is not None
    ]
    limit = min(limits) if limits else 0
    variance = {"at the limit": sign * limit, "just past it": sign * (limit + 1), "anywhere": anywhere}[where]
    result = compare(
        [("r", record_balance, 0, True)],
        theirs=None,
        their_balance=record_balance + variance,
        tolerance=Tolerance(absolute, basis_points),
    )
    assert result.variance == variance
    expected = (
        "match"
        if variance == 0
        else "within_tolerance"
        if _within(variance, record_balance, absolute, basis_points)
        else "needs_evidence"
    )
    assert result.resolution == expected, (variance, limit)
    if where == "at the limit" and limits:
        assert result.resolution in ("match", "within_tolerance")
    if where == "just past it":
        assert result.resolution == "needs_evidence"


@settings(max_examples=100, deadline=None)
@given(record=records, theirs=theirs_views, limit=st.integers(1, 5))
def test_evidence_lists_are_cut_to_the_limit_and_counts_stay_complete(
    record: dict[str, tuple[int, bool]], theirs: dict[str, int], limit: int
) -> None:
    rows = [(ref, amount, index, verified) for index, (ref, (amount, verified)) in enumerate(record.items())]
    full = compare(rows, theirs=iter(theirs.items()), their_balance=None, tolerance=Tolerance(), limit=1000)
    cut = compare(rows, theirs=iter(theirs.items()), their_balance=None, tolerance=Tolerance(), limit=limit)
    assert (cut.variance, cut.resolution, cut.matched) == (full.variance, full.resolution, full.matched)
    assert cut.evidence.counts == full.evidence.counts
    pairs: list[tuple[list[Any], list[Any]]] = [
        (cut.evidence.only_in_record, full.evidence.only_in_record),
        (cut.evidence.only_in_theirs, full.evidence.only_in_theirs),
        (cut.evidence.amount_mismatch, full.evidence.amount_mismatch),
        (cut.evidence.pending, full.evidence.pending),
    ]
    for kept, every in pairs:
        assert kept == every[:limit]  # the first found (onlyInRecord: the newest), no more than the limit
    assert full.evidence.counts["onlyInRecord"] == len(full.evidence.only_in_record)
