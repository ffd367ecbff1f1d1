"""The anchoring job against a real Anvil and a real SQLite file, called directly.

Tests marked ON_BOTH_EVMS also run against Hardhat Network (tests/evm.py), the second EVM
implementation; the others start an Anvil of their own with options only it has here (block time).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func
from sqlmodel import col, select

from node.anchoring.cycle import AnchorPolicy, AnchorStateMismatch, run_anchor_cycle
from node.chain.client import AnchorClient, account_from_key, connect
from node.core.deltas import validate_delta_request
from node.core.hashing import from_hex
from node.core.signing import Signer
from node.core.typed_data import Domain
from node.dev.chain import DEV_ANCHORER_KEY, free_port, start_anvil
from node.ledger.receipts import ReceiptReader, receipt_json
from node.ledger.recording import Recorder
from node.store.batches import anchoring_snapshot, list_batches_in_status
from node.store.dashboard import TenantAnchoring, tenant_anchoring
from node.store.db import Store
from node.store.keys import ensure_tenant
from node.store.migrate import upgrade
from node.store.models import (
    BatchRow,
    BatchStatus,
    BatchTreeRow,
    StoredDelta,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from tests.conftest import BOTH_BACKENDS, ON_BOTH_EVMS, Deployment, deploy_fresh


def _setup(deployment: Deployment, db_url: str) -> tuple[Store, Recorder, ReceiptReader]:
    store = Store(db_url)
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="default")
        session.commit()
    signer = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
    domain = Domain(31337, from_hex(deployment.address, length=20))
    return (
        store,
        Recorder(store=store, domain=domain, signer=signer),
        ReceiptReader(store=store, domain=domain),
    )


def _record(recorder: Recorder, n: int, customer: str = "cust_1") -> list[StoredDelta]:
    rows = []
    for i in range(n):
        request = validate_delta_request(
            customer_id=customer, delta=(i + 1) * 7, reason="usage", reference_id=secrets.token_hex(8), metadata=None
        )
        rows.append(recorder.record(tenant="default", request=request)[0])
    return rows


def _receipt_status(reader: ReceiptReader, receipt_id: str) -> str:
    """The status a receipt shows (GET /v1/receipts/{id}): its batch's."""
    row, batch = reader.get(tenant="default", receipt_id=receipt_id)
    return str(receipt_json(row, batch, head_block=None, confirmations_required=1)["status"])


def _statuses(store: Store) -> list[str]:
    with store.session() as session:
        return [b.status for b in list_batches_in_status(session=session, statuses=list(BatchStatus))]


@ON_BOTH_EVMS
def test_cycle_anchors_contiguous_batches_and_every_proof_verifies_on_chain(
    deployment: Deployment, db_url: str
) -> None:
    store, recorder, reader = _setup(deployment, db_url)
    chain = deployment.client()
    policy = AnchorPolicy(max_batch_size=4)
    rows = _record(recorder, 10)

    report = run_anchor_cycle(store, chain, time.time, policy)

    assert report.batches_prepared == 3 and report.batches_verified == 3 and report.deltas_verified == 10
    assert chain.next_index() == 10
    with store.session() as session:
        batches = session.exec(select(BatchRow).order_by(col(BatchRow.start_index))).all()
    assert [(b.start_index, b.count, b.onchain_batch_id) for b in batches] == [(0, 4, 0), (4, 4, 1), (8, 2, 2)]
    for row in rows:
        bundle = reader.proof_bundle(tenant="default", receipt_id=row.receipt_id)
        batch = bundle["batch"]
        assert chain.verify_on_chain(
            start_index=batch["startIndex"],
            count=batch["count"],
            root=from_hex(batch["root"]),
            log_index=bundle["logIndex"],
            fingerprint=from_hex(bundle["fingerprint"]),
            proof=[from_hex(p) for p in bundle["proof"]],
        )
        # A proof for another log index or a flipped fingerprint is refused by the contract itself.
        assert not chain.verify_on_chain(
            start_index=batch["startIndex"],
            count=batch["count"],
            root=from_hex(batch["root"]),
            log_index=bundle["logIndex"],
            fingerprint=bytes(32),
            proof=[from_hex(p) for p in bundle["proof"]],
        )


@ON_BOTH_EVMS
def test_proofs_from_stored_trees_equal_proofs_from_rebuilt_trees(deployment: Deployment, db_url: str) -> None:
    store, recorder, reader = _setup(deployment, db_url)
    rows = _record(recorder, 23)
    run_anchor_cycle(store, deployment.client(), time.time, AnchorPolicy(max_batch_size=10))
    stored = [reader.proof_bundle(tenant="default", receipt_id=row.receipt_id) for row in rows]
    with store.writer() as session:
        assert session.exec(select(func.count()).select_from(BatchTreeRow)).one() == 3
        session.execute(delete(BatchTreeRow))  # as a batch anchored before trees were stored
        session.commit()
    fresh = ReceiptReader(store=store, domain=reader.domain)
    assert [fresh.proof_bundle(tenant="default", receipt_id=row.receipt_id) for row in rows] == stored


@ON_BOTH_EVMS
def test_nothing_pending_sends_nothing(deployment: Deployment, db_url: str) -> None:
    store, _recorder, _reader = _setup(deployment, db_url)
    report = run_anchor_cycle(store, deployment.client(), time.time, AnchorPolicy())
    assert report.batches_prepared == 0 and deployment.client().next_index() == 0


class _RecordingMeanwhile(AnchorClient):
    """The real client, and two deltas recorded as it broadcasts (the first time, while ``recording``)."""

    def __init__(self, deployment: Deployment, recorder: Recorder) -> None:
        super().__init__(connect(deployment.rpc_url), deployment.address, account_from_key(DEV_ANCHORER_KEY))
        self.recorder = recorder
        self.recording = True

    def broadcast(self, raw_tx: bytes, *, again: bool = False) -> bool:
        if self.recording:
            _record(self.recorder, 2, customer="cust_2")
            self.recording = False
        return super().broadcast(raw_tx, again=again)


def test_deltas_recorded_while_a_batch_is_sent_wait_for_the_next_cycle(deployment: Deployment, db_url: str) -> None:
    """Anvil mines at once, as fast L2s nearly do: a cycle that went on while recording went on would send
    a small batch (a transaction, its gas) every moment. One cycle sends one batch of what waited."""
    store, recorder, _reader = _setup(deployment, db_url)
    _record(recorder, 3)
    chain = _RecordingMeanwhile(deployment, recorder)
    first = run_anchor_cycle(store, chain, time.time, AnchorPolicy(max_batch_size=10))
    assert (first.batches_prepared, first.deltas_verified) == (1, 3)
    assert chain.next_index() == 3

    second = run_anchor_cycle(store, chain, time.time, AnchorPolicy(max_batch_size=10))
    assert (second.batches_prepared, second.deltas_verified) == (1, 2)
    assert chain.next_index() == 5


@ON_BOTH_EVMS
def test_crash_after_write_ahead_is_finished_by_the_next_cycle(deployment: Deployment, db_url: str) -> None:
    """A cycle that died after writing the batch (or after broadcasting) never anchors twice."""
    store, recorder, _reader = _setup(deployment, db_url)
    chain = deployment.client()
    _record(recorder, 3)
    # Simulate a crash right after broadcast: sign + persist + broadcast, then "die" before the receipt.
    from node.anchoring.cycle import _prepare_batch, _send

    batch = _prepare_batch(store, chain, time.time, AnchorPolicy())
    assert batch is not None
    _send(store, chain, batch)
    # The recovery cycle must not send a second anchor for the same range.
    nonce_before = chain.pending_nonce()
    report = run_anchor_cycle(store, chain, time.time, AnchorPolicy())
    assert report.batches_verified == 1
    assert chain.pending_nonce() == nonce_before
    assert chain.next_index() == 3
    assert _statuses(store) == [BatchStatus.VERIFIED]


@ON_BOTH_EVMS
def test_prepared_batch_already_on_chain_is_recognised_from_the_event(deployment: Deployment, db_url: str) -> None:
    store, recorder, _reader = _setup(deployment, db_url)
    chain = deployment.client()
    _record(recorder, 2)
    from node.anchoring.cycle import _prepare_batch

    batch = _prepare_batch(store, chain, time.time, AnchorPolicy())
    assert batch is not None
    # The transaction went out but the crash lost even its hash: anchor it behind the node's back.
    tx_hash, raw = chain.sign_anchor(start_index=0, count=2, root=batch.root, nonce=chain.pending_nonce())
    chain.broadcast(raw)
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1  # type: ignore[arg-type]
    run_anchor_cycle(store, chain, time.time, AnchorPolicy())
    with store.session() as session:
        row = session.get(BatchRow, batch.id)
    assert row is not None and row.status == BatchStatus.VERIFIED and row.tx_hash == tx_hash


@ON_BOTH_EVMS
def test_database_of_another_contract_is_refused(
    deployment: Deployment, chain_rpc: str, artifact: Path, db_url: str
) -> None:
    store, recorder, _reader = _setup(deployment, db_url)
    _record(recorder, 1)
    run_anchor_cycle(store, deployment.client(), time.time, AnchorPolicy())
    other = deploy_fresh(chain_rpc, artifact)
    _record(recorder, 1)
    with pytest.raises(AnchorStateMismatch, match="nextIndex is 0"):
        run_anchor_cycle(store, other.client(), time.time, AnchorPolicy())


@BOTH_BACKENDS
def test_confirmations_wait_for_blocks_with_block_time(artifact: Path, db_url: str) -> None:
    chain_proc = start_anvil(port=free_port(), block_time=0.5)
    try:
        deployment = deploy_fresh(chain_proc.rpc_url, artifact)
        store, recorder, reader = _setup(deployment, db_url)
        chain = deployment.client()
        rows = _record(recorder, 2)
        policy = AnchorPolicy(confirmations=3, receipt_timeout=10)
        first = run_anchor_cycle(store, chain, time.time, policy)
        assert first.batches_anchored == 1 and first.batches_verified == 0
        assert _receipt_status(reader, rows[0].receipt_id) == "anchored"
        deadline = time.monotonic() + 10
        while run_anchor_cycle(store, chain, time.time, policy).batches_verified == 0:
            assert time.monotonic() < deadline, "never reached 3 confirmations"
            time.sleep(0.2)
        assert [_receipt_status(reader, row.receipt_id) for row in rows] == ["verified", "verified"]
    finally:
        chain_proc.stop()


@ON_BOTH_EVMS
def test_reorged_batch_is_anchored_again_and_proofs_follow_the_new_block(deployment: Deployment, db_url: str) -> None:
    """Until it has its confirmations, a batch's block hash is rechecked; a vanished block is re-anchored."""
    store, recorder, reader = _setup(deployment, db_url)
    chain = deployment.client()
    provider = chain.w3.provider
    policy = AnchorPolicy(confirmations=3)
    with store.writer() as session:
        session.add(
            WebhookEndpointRow(
                id="whk_reorg", tenant="default", url="https://example.invalid/h", events="batch.reorged",
                secret="whsec_AAAA", created_at=0, updated_at=0,
            )
        )  # fmt: skip
        session.commit()
    rows = _record(recorder, 3)
    snapshot = provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    assert run_anchor_cycle(store, chain, time.time, policy).batches_anchored == 1
    before = reader.proof_bundle(tenant="default", receipt_id=rows[0].receipt_id)["batch"]

    # The block holding the anchor vanishes, and a different block takes its height.
    provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert chain.next_index() == 0

    report = run_anchor_cycle(store, chain, time.time, policy)
    assert report.reorged == 1
    with store.session() as session:
        events = [d.event_type for d in session.exec(select(WebhookDeliveryRow)).all()]
    assert events == ["batch.reorged"], "the reorg is announced to subscribed endpoints"
    assert chain.next_index() == 3, "the stored transaction was broadcast again"
    assert [_receipt_status(reader, row.receipt_id) for row in rows] == ["anchored"] * 3
    for _ in range(2):
        provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert run_anchor_cycle(store, chain, time.time, policy).batches_verified == 1
    after = reader.proof_bundle(tenant="default", receipt_id=rows[0].receipt_id)["batch"]
    assert after["blockHash"] != before["blockHash"]
    assert chain.block_hash_at(after["blockNumber"]) == from_hex(after["blockHash"])
    assert _statuses(store) == [BatchStatus.VERIFIED]


@BOTH_BACKENDS
def test_a_transaction_not_mined_in_time_is_replaced_at_the_same_nonce(artifact: Path, db_url: str) -> None:
    chain_proc = start_anvil(port=free_port())
    try:
        deployment = deploy_fresh(chain_proc.rpc_url, artifact)
        store, recorder, reader = _setup(deployment, db_url)
        chain = deployment.client()
        provider = chain.w3.provider
        signed: list[tuple[bytes, int, bytes | None]] = []
        original = chain.sign_anchor

        def spy(**kwargs: Any) -> tuple[bytes, bytes]:
            tx_hash, raw = original(**kwargs)
            signed.append((tx_hash, kwargs["nonce"], kwargs.get("replacing")))
            return tx_hash, raw

        chain.sign_anchor = spy  # type: ignore[method-assign]
        rows = _record(recorder, 2)
        provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]  # nothing gets mined now
        run_anchor_cycle(store, chain, time.time, AnchorPolicy(receipt_timeout=0.3))
        assert len(signed) == 2, "sent, not mined in time, replaced"
        (first, nonce, _), (second, second_nonce, replacing) = signed
        assert second_nonce == nonce and replacing == first and second != first
        new_fee = chain.w3.eth.get_transaction(second)["maxPriorityFeePerGas"]  # type: ignore[arg-type]
        assert new_fee > chain.w3.eth.max_priority_fee, "the replacement pays more than the going tip"
        assert not chain.is_known_transaction(first), "the node dropped the replaced transaction"

        provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        report = run_anchor_cycle(store, chain, time.time, AnchorPolicy(receipt_timeout=5))
        assert report.batches_verified == 1 and chain.next_index() == 2
        bundle = reader.proof_bundle(tenant="default", receipt_id=rows[0].receipt_id)
        assert bundle["batch"]["txHash"] == "0x" + second.hex()
        assert chain.get_mined(first) is None, "the replaced transaction never lands"
    finally:
        chain_proc.stop()


@ON_BOTH_EVMS
def test_what_waits_is_counted_per_tenant_until_its_batch_is_verified(deployment: Deployment, db_url: str) -> None:
    """The overview's "pending" and "anchoring lag" and the metrics' unverified count, from the batches."""
    store, recorder, _reader = _setup(deployment, db_url)
    chain = deployment.client()
    provider = chain.w3.provider
    with store.writer() as session:
        ensure_tenant(session=session, tenant="other")
        session.commit()
    mine = _record(recorder, 2)
    request = validate_delta_request(customer_id="c", delta=1, reason="usage", reference_id="o1", metadata=None)
    theirs = recorder.record(tenant="other", request=request)[0]

    def waiting() -> tuple[TenantAnchoring, TenantAnchoring, int]:
        with store.session() as session:
            return (
                tenant_anchoring(session=session, tenant="default"),
                tenant_anchoring(session=session, tenant="other"),
                anchoring_snapshot(session=session).unverified,
            )

    before = (TenantAnchoring(2, mine[0].recorded_at), TenantAnchoring(1, theirs.recorded_at), 3)
    assert waiting() == before
    policy = AnchorPolicy(confirmations=3)
    assert run_anchor_cycle(store, chain, time.time, policy).batches_anchored == 1
    assert waiting() == before, "anchored is not verified yet"
    for _ in range(2):
        provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert run_anchor_cycle(store, chain, time.time, policy).batches_verified == 1
    assert waiting() == (TenantAnchoring(0, None), TenantAnchoring(0, None), 0)
    again = validate_delta_request(customer_id="c", delta=2, reason="usage", reference_id="o2", metadata=None)
    later = recorder.record(tenant="other", request=again)[0]
    assert waiting() == (TenantAnchoring(0, None), TenantAnchoring(1, later.recorded_at), 1)
