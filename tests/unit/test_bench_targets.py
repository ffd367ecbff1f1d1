"""The benchmark judges issue 21's ingest targets only under the conditions they are stated for."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

from benchkit.targets import RECORDED, ingest_targets


def test_sqlite_targets_are_judged_with_two_workers_on_a_large_record() -> None:
    single, bulk = ingest_targets(postgres=False, processes=1, workers=2, recorded=RECORDED)
    assert single is not None
    assert (single.met(1_499), single.met(1_500)) == (False, True)
    assert (bulk.met(9_999), bulk.met(10_000)) == (False, True)


def test_a_run_of_another_shape_shows_the_target_without_a_verdict() -> None:
    for shape in (
        {"processes": 1, "workers": 1, "recorded": RECORDED},  # one worker
        {"processes": 1, "workers": 2, "recorded": 0},  # an empty database: inserts are cheaper
        {"processes": 2, "workers": 2, "recorded": RECORDED},
    ):
        single, bulk = ingest_targets(postgres=False, **shape)
        assert single is not None and single.met(1e9) is None and bulk.met(1e9) is None, shape
        assert "--workers 2" in bulk.text


def test_postgresql_bulk_target_is_for_one_process_and_has_no_single_delta_target() -> None:
    single, bulk = ingest_targets(postgres=True, processes=1, workers=1, recorded=0)
    assert single is None
    assert (bulk.met(4_999), bulk.met(5_000)) == (False, True)
    assert ingest_targets(postgres=True, processes=2, workers=1, recorded=0)[1].met(1e9) is None
