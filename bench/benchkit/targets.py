"""The ingest targets (issue 21) and the conditions they are stated for.

A target is judged only when the run measures under its conditions: a figure from one process, or
from an empty database, says nothing about a target set for ``--workers 2`` on a large record, so its
row shows the target with "-" in the met column instead of a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORDED = 1_000_000  # the ingest targets hold on a record at least this large (inserts slow as it grows)


@dataclass(frozen=True)
class Target:
    minimum: float
    text: str
    applies: bool

    def met(self, figure: float) -> bool | None:
        return figure >= self.minimum if self.applies else None


def ingest_targets(*, postgres: bool, processes: int, workers: int, recorded: int) -> tuple[Target | None, Target]:
    """(single-delta POST, bulk POST of 1,000) for this run's shape. Every delta is signed, chained and
    committed (fsync) before its answer, with a local signing key, whatever the shape."""
    if postgres:
        one_process = processes == 1 and workers == 1
        return None, Target(5_000, ">= 5,000 (PostgreSQL, 1 process)", one_process)
    shape = workers == 2 and processes == 1 and recorded >= RECORDED
    conditions = f"`--workers 2`, >= {RECORDED:,} recorded"
    return Target(1_500, f">= 1,500 ({conditions})", shape), Target(10_000, f">= 10,000 ({conditions})", shape)


EVENTS_WITHIN = 0.20  # CloudEvents batch ingest within 20% of the bulk endpoint
SCALE_OUT = 1.5  # PostgreSQL: 2 API processes >= 1.5x one
