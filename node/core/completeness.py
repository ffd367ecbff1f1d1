"""Is the database's log complete? Its batches against the contract's batch history.

The contract only accepts ``anchor(startIndex, count, root)`` at ``nextIndex``, so its
``BatchAnchored`` events cover log indexes ``[0, nextIndex)`` without a gap. Comparing them with the
database's batches shows what a database edit behind the node's back removed or invented:

- ``missing_tail``: the chain anchored log indexes ``[a, nextIndex)`` past the database's last batch
  (the newest batches were deleted);
- ``missing_batch``: a batch on chain (its id, ``[start, start+count)``) that the database lacks, with
  database batches after it (a batch was deleted from the middle);
- ``unanchored_batch``: a database batch marked anchored or verified whose range is not on chain
  (a forged batch);
- ``chain_root_mismatch`` / ``chain_count_mismatch``: same start index, a different root or count;
- ``range_mismatch``: a database batch overlaps a chain batch without starting where it starts;
- ``missing_rows``: a settled batch holds fewer (or other) delta rows than its count (a delta was
  deleted from it); the finding's log indexes are the first to the last absent one;
- ``chain_history_gap``: the events read do not cover ``[0, nextIndex)`` (the history was read from
  too late a block, or the RPC dropped logs), so the comparison cannot be trusted there.

Batches still prepared or sent (in flight) are no finding: the chain may or may not have them yet.
Pure: the caller reads both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from node.core.audit import Discrepancy
from node.core.hashing import to_hex

SETTLED = frozenset({"anchored", "verified"})
NAMED_INDEXES = 20  # log indexes spelled out in a missing_rows detail before "…"


@dataclass(frozen=True)
class ChainBatch:
    """One ``BatchAnchored`` event of the anchor contract."""

    batch_id: int
    start_index: int
    count: int
    root: bytes
    tx_hash: bytes | None = None
    block_number: int | None = None

    @property
    def end(self) -> int:
        return self.start_index + self.count


@dataclass(frozen=True)
class DatabaseBatch:
    """One database batch. ``rows``: how many deltas name it (None: not counted); ``log_indexes``:
    the log indexes of those rows, needed only when ``rows`` is not ``count``."""

    start_index: int
    count: int
    root: bytes
    status: str
    rows: int | None = None
    log_indexes: tuple[int, ...] | None = None

    @property
    def end(self) -> int:
        return self.start_index + self.count

    @property
    def settled(self) -> bool:
        return self.status in SETTLED


def span(start: int, end: int) -> str:
    """``[start, end)`` with the inclusive form, e.g. ``[5, 10) (5..9)``."""
    inclusive = f"{start}" if end - start == 1 else f"{start}..{end - 1}"
    return f"[{start}, {end}) ({inclusive})"


def runs(indexes: Iterable[int]) -> str:
    """``3, 5..7, 9`` for sorted indexes; the first NAMED_INDEXES runs, then how many more."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}..{ordered[j]}")
        i = j + 1
    if len(parts) > NAMED_INDEXES:
        return ", ".join(parts[:NAMED_INDEXES]) + f", … ({len(parts) - NAMED_INDEXES} more runs)"
    return ", ".join(parts)


def _finding(reason: str, detail: str, start: int, end: int, batch_id: int | None = None) -> Discrepancy:
    return Discrepancy(
        reason, detail, None, None, start, log_from=start, log_to=end - 1 if end > start else start, batch_id=batch_id
    )


def compare_with_chain(
    stored: Sequence[DatabaseBatch], chain: Sequence[ChainBatch], next_index: int
) -> list[Discrepancy]:
    """Every difference between the database's batches and the contract's history, by log index."""
    found: list[Discrepancy] = []
    on_chain = sorted(chain, key=lambda c: c.start_index)
    gaps = _history_gaps(on_chain, next_index)
    found += gaps
    unseen = [(g.log_from or 0, (g.log_to or 0) + 1) for g in gaps]
    chain_by_start = {c.start_index: c for c in on_chain}
    stored_by_start = {s.start_index: s for s in stored}
    database_end = max((s.end for s in stored), default=0)

    missing: list[ChainBatch] = []
    for c in on_chain:
        s = stored_by_start.get(c.start_index)
        if s is None:
            # Overlapping a database batch that starts elsewhere: that batch's range_mismatch (or, in
            # flight, nothing) says it; otherwise the database has nothing of it.
            if not any(x.start_index < c.end and c.start_index < x.end for x in stored):
                missing.append(c)
            continue
        if not s.settled:
            continue  # in flight: the anchoring job is still finding out whether it landed
        if s.count != c.count:
            found.append(
                _finding(
                    "chain_count_mismatch",
                    f"the database's batch at log index {s.start_index} has count {s.count}, on-chain batch "
                    f"{c.batch_id} {span(c.start_index, c.end)} has count {c.count}",
                    s.start_index,
                    max(s.end, c.end),
                    c.batch_id,
                )
            )
        elif s.root != c.root:
            found.append(
                _finding(
                    "chain_root_mismatch",
                    f"the database's batch {span(s.start_index, s.end)} has root {to_hex(s.root)}, on-chain batch "
                    f"{c.batch_id} anchored {to_hex(c.root)}",
                    s.start_index,
                    s.end,
                    c.batch_id,
                )
            )

    tail = [c for c in missing if c.start_index >= database_end]
    for c in missing:
        if c.start_index >= database_end:
            continue
        found.append(
            _finding(
                "missing_batch",
                f"on-chain batch {c.batch_id} anchored log indexes {span(c.start_index, c.end)} (root "
                f"{to_hex(c.root)}{_where(c)}); the database has no such batch",
                c.start_index,
                c.end,
                c.batch_id,
            )
        )
    if tail:
        first = min(c.start_index for c in tail)
        end = max(next_index, *(c.end for c in tail))
        ids = ", ".join(str(c.batch_id) for c in tail)
        found.append(
            _finding(
                "missing_tail",
                f"the chain anchored log indexes {span(first, end)} in batch(es) {ids}, past the database's last "
                f"batch (which ends at {database_end})",
                first,
                end,
                tail[0].batch_id,
            )
        )

    for s in stored:
        if not s.settled:
            continue
        if s.start_index not in chain_by_start:
            overlapping = [c for c in on_chain if c.start_index < s.end and s.start_index < c.end]
            for c in overlapping:
                found.append(
                    _finding(
                        "range_mismatch",
                        f"the database's batch {span(s.start_index, s.end)} overlaps on-chain batch {c.batch_id} "
                        f"{span(c.start_index, c.end)} without starting where it starts",
                        s.start_index,
                        s.end,
                        c.batch_id,
                    )
                )
            in_gap = any(a < s.end and s.start_index < b for a, b in unseen)  # the gap finding says it
            if not overlapping and not in_gap:
                found.append(
                    _finding(
                        "unanchored_batch",
                        f"the database's {s.status} batch {span(s.start_index, s.end)} (root {to_hex(s.root)}) is "
                        f"not on chain (the contract's nextIndex is {next_index})",
                        s.start_index,
                        s.end,
                    )
                )
        found += _row_findings(s)
    return sorted(found, key=lambda f: (f.log_from or 0, f.reason))


def _where(c: ChainBatch) -> str:
    parts = []
    if c.tx_hash is not None:
        parts.append(f"transaction {to_hex(c.tx_hash)}")
    if c.block_number is not None:
        parts.append(f"block {c.block_number}")
    return ", " + ", ".join(parts) if parts else ""


def _history_gaps(on_chain: Sequence[ChainBatch], next_index: int) -> list[Discrepancy]:
    found = []
    expected = 0
    for c in on_chain:
        if c.start_index > expected:
            found.append(
                _finding(
                    "chain_history_gap",
                    f"no BatchAnchored event read for log indexes {span(expected, c.start_index)}; the comparison "
                    "cannot see them (is the deployment block right?)",
                    expected,
                    c.start_index,
                )
            )
        expected = max(expected, c.end)
    if next_index > expected:
        found.append(
            _finding(
                "chain_history_gap",
                f"the contract's nextIndex is {next_index} but the events read end at {expected}: no event for "
                f"log indexes {span(expected, next_index)}",
                expected,
                next_index,
            )
        )
    return found


def _row_findings(s: DatabaseBatch) -> list[Discrepancy]:
    if s.rows is None or (s.rows == s.count and s.log_indexes is None):
        return []
    present = set(s.log_indexes or ())
    if s.rows == s.count and present == set(range(s.start_index, s.end)):
        return []
    absent = [i for i in range(s.start_index, s.end) if i not in present]
    stray = sorted(i for i in present if not s.start_index <= i < s.end)
    detail = f"batch {span(s.start_index, s.end)} has {s.rows} delta row(s) for a count of {s.count}"
    if absent:
        detail += f"; no row at log index(es) {runs(absent)}"
    if stray:
        detail += f"; rows outside its range at {runs(stray)}"
    found = _finding("missing_rows", detail, s.start_index, s.end)
    if absent:  # the log indexes named are the absent ones (the batch is batchStartIndex)
        found = replace(found, log_from=absent[0], log_to=absent[-1])
    return [found]
