"""A delta's status is its batch's: what every receipt, page and count shows (migration 0009)."""

from __future__ import annotations

import pytest

from node.store.models import BatchStatus, DeltaStatus, delta_status


@pytest.mark.parametrize(
    ("batch_status", "shown"),
    [
        (None, DeltaStatus.PENDING),  # recorded, not in a batch yet
        (BatchStatus.PREPARED, DeltaStatus.PENDING),  # in a batch whose transaction is not sent
        (BatchStatus.SENT, DeltaStatus.PENDING),  # sent, not mined (or sent again after a reorg)
        (BatchStatus.ANCHORED, DeltaStatus.ANCHORED),
        (BatchStatus.VERIFIED, DeltaStatus.VERIFIED),
    ],
)
def test_a_delta_shows_pending_until_its_batch_is_mined_then_the_batch_s_status(
    batch_status: str | None, shown: DeltaStatus
) -> None:
    assert delta_status(batch_status) == shown
