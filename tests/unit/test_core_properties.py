"""Hypothesis properties of the core: trees, chain replay and reconciliation."""

from __future__ import annotations

from hypothesis import given, settings
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


records = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4), st.tuples(st.integers(-1000, 1000), st.booleans()), max_size=30
)
theirs_views = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.integers(-1000, 1000), max_size=30)


@settings(max_examples=200, deadline=None)
@given(record=records, theirs=theirs_views, absolute=st.one_of(st.none(), st.integers(0, 500)))
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
    if result.resolution == "auto_settled":
        assert abs(result.variance) <= (absolute or 0)  # no tolerance set: only a zero net variance settles
