"""node.core.completeness: the database's batches against the contract's batch history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.core.audit import Discrepancy
from node.core.completeness import ChainBatch, DatabaseBatch, compare_with_chain, runs, span


def _history(counts: list[int]) -> list[ChainBatch]:
    out, start = [], 0
    for i, n in enumerate(counts):
        out.append(ChainBatch(i, start, n, bytes([i + 1]) * 32, tx_hash=b"\x01" * 32, block_number=10 + i))
        start += n
    return out


def _stored(chain: list[ChainBatch], status: str = "verified") -> list[DatabaseBatch]:
    return [DatabaseBatch(c.start_index, c.count, c.root, status, c.count) for c in chain]


def _codes(found: list[Discrepancy]) -> list[tuple[str, int | None, int | None]]:
    return [(f.reason, f.log_from, f.log_to) for f in found]


CHAIN = _history([2, 3, 1, 4])  # log indexes [0,2) [2,5) [5,6) [6,10)
NEXT = 10


def test_a_complete_record_has_no_finding() -> None:
    assert compare_with_chain(_stored(CHAIN), CHAIN, NEXT) == []
    assert compare_with_chain([], [], 0) == []


def test_the_deleted_newest_batch_is_a_missing_tail_naming_its_indexes() -> None:
    found = compare_with_chain(_stored(CHAIN[:-1]), CHAIN, NEXT)
    assert _codes(found) == [("missing_tail", 6, 9)]
    assert found[0].batch_id == 3 and "[6, 10)" in found[0].detail and "6..9" in found[0].detail
    two = compare_with_chain(_stored(CHAIN[:2]), CHAIN, NEXT)
    assert _codes(two) == [("missing_tail", 5, 9)] and "batch(es) 2, 3" in two[0].detail
    assert _codes(compare_with_chain([], CHAIN, NEXT)) == [("missing_tail", 0, 9)]


def test_a_deleted_middle_batch_is_a_missing_batch_with_its_id_and_range() -> None:
    stored = _stored(CHAIN)
    del stored[1]
    found = compare_with_chain(stored, CHAIN, NEXT)
    assert _codes(found) == [("missing_batch", 2, 4)]
    assert found[0].batch_id == 1 and "on-chain batch 1" in found[0].detail and "block 11" in found[0].detail


def test_a_forged_batch_is_unanchored() -> None:
    forged = DatabaseBatch(10, 2, b"\xee" * 32, "verified", 2)
    found = compare_with_chain([*_stored(CHAIN), forged], CHAIN, NEXT)
    assert _codes(found) == [("unanchored_batch", 10, 11)] and "nextIndex is 10" in found[0].detail
    anchored = DatabaseBatch(10, 2, b"\xee" * 32, "anchored", 2)
    assert _codes(compare_with_chain([*_stored(CHAIN), anchored], CHAIN, NEXT)) == [("unanchored_batch", 10, 11)]


def test_same_start_with_another_root_or_count_is_a_mismatch() -> None:
    stored = _stored(CHAIN)
    stored[2] = DatabaseBatch(5, 1, b"\x00" * 32, "verified", 1)
    assert _codes(compare_with_chain(stored, CHAIN, NEXT)) == [("chain_root_mismatch", 5, 5)]
    stored = _stored(CHAIN)
    stored[3] = DatabaseBatch(6, 3, CHAIN[3].root, "verified", 3)
    assert _codes(compare_with_chain(stored, CHAIN, NEXT)) == [("chain_count_mismatch", 6, 9)]


def test_a_batch_split_differently_is_a_range_mismatch() -> None:
    halves = [DatabaseBatch(6, 2, b"\x07" * 32, "verified", 2), DatabaseBatch(8, 2, b"\x08" * 32, "verified", 2)]
    stored = [*_stored(CHAIN[:3]), *halves]
    found = compare_with_chain(stored, CHAIN, NEXT)
    assert {f.reason for f in found} == {"chain_count_mismatch", "range_mismatch"}
    assert ("range_mismatch", 8, 9) in _codes(found)


def test_a_deleted_row_is_named_by_log_index() -> None:
    stored = _stored(CHAIN)
    stored[3] = DatabaseBatch(6, 4, CHAIN[3].root, "verified", 3, (6, 7, 8))
    found = compare_with_chain(stored, CHAIN, NEXT)
    assert _codes(found) == [("missing_rows", 9, 9)] and "no row at log index(es) 9" in found[0].detail
    assert found[0].batch_start == 6
    stored[3] = DatabaseBatch(6, 4, CHAIN[3].root, "verified", 4, (6, 7, 8, 12))
    assert "rows outside its range at 12" in compare_with_chain(stored, CHAIN, NEXT)[0].detail


def test_batches_in_flight_are_no_finding() -> None:
    for status in ("prepared", "sent"):
        on_chain_already = [*_stored(CHAIN[:-1]), DatabaseBatch(6, 4, CHAIN[3].root, status, 4)]
        assert compare_with_chain(on_chain_already, CHAIN, NEXT) == []
        not_yet = [*_stored(CHAIN), DatabaseBatch(10, 5, b"\x09" * 32, status, 5)]
        assert compare_with_chain(not_yet, CHAIN, NEXT) == []
        wrong_root = [*_stored(CHAIN[:-1]), DatabaseBatch(6, 4, b"\x00" * 32, status, 0)]
        assert compare_with_chain(wrong_root, CHAIN, NEXT) == []


def test_an_incomplete_history_is_reported_not_trusted() -> None:
    found = compare_with_chain(_stored(CHAIN), CHAIN[1:], NEXT)
    assert _codes(found) == [("chain_history_gap", 0, 1)]  # not an unanchored batch: the events were not read
    assert ("chain_history_gap", 6, 9) in _codes(compare_with_chain(_stored(CHAIN[:3]), CHAIN[:3], NEXT))


def test_spans_and_runs_read_as_inclusive_indexes() -> None:
    assert span(5, 10) == "[5, 10) (5..9)" and span(3, 4) == "[3, 4) (3)"
    assert runs([9, 3, 5, 6, 7]) == "3, 5..7, 9"
    assert runs(range(0, 100, 2)).endswith("(30 more runs)")


@given(
    counts=st.lists(st.integers(1, 5), min_size=1, max_size=12),
    data=st.data(),
)
def test_deleting_any_batches_names_exactly_those_log_indexes(counts: list[int], data: st.DataObject) -> None:
    chain = _history(counts)
    next_index = chain[-1].end
    deleted = data.draw(st.sets(st.integers(0, len(chain) - 1)))
    kept = [c for c in chain if c.batch_id not in deleted]
    found = compare_with_chain(_stored(kept), chain, next_index)
    assert {f.reason for f in found} <= {"missing_tail", "missing_batch"}
    named: set[int] = set()
    for f in found:
        assert f.log_from is not None and f.log_to is not None
        named |= set(range(f.log_from, f.log_to + 1))
    gone = {i for c in chain if c.batch_id in deleted for i in range(c.start_index, c.end)}
    assert named == gone
    kept_end = max((c.end for c in kept), default=0)
    tail = [f for f in found if f.reason == "missing_tail"]
    assert len(tail) == (1 if next_index > kept_end else 0)
    if tail:
        assert (tail[0].log_from, tail[0].log_to) == (kept_end, next_index - 1)
    for f in found:
        if f.reason == "missing_batch":
            assert f.batch_id in deleted and f.log_from is not None and f.log_from < kept_end


@given(
    counts=st.lists(st.integers(1, 5), max_size=8),
    forged=st.integers(1, 5),
    status=st.sampled_from(["anchored", "verified"]),
)
def test_any_forged_batch_past_next_index_is_unanchored(counts: list[int], forged: int, status: str) -> None:
    chain = _history(counts)
    next_index = chain[-1].end if chain else 0
    fake = DatabaseBatch(next_index, forged, b"\xab" * 32, status, forged)
    found = compare_with_chain([*_stored(chain), fake], chain, next_index)
    assert _codes(found) == [("unanchored_batch", next_index, next_index + forged - 1)]
