"""Finality on a real chain: the ``finalized`` tag rule on both EVM implementations, and a reorg deeper
than the confirmation depth that takes a verified batch away while it is above the finalized block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from web3.types import RPCEndpoint

from node.anchoring.cycle import AnchorPolicy
from node.core.finality import FinalityMode
from node.store.balances import get_customer_balance
from node.store.models import BatchRow, BatchStatus, DeltaStatus, WebhookDeliveryRow, WebhookEndpointRow
from tests.conftest import BOTH_EVMS, Deployment, start_node, wait_for_status
from tests.ledger_support import Ledger
from tests.rpc_proxy import RpcProxy
from tests.support import wait_until

# How far each implementation's ``finalized`` block trails its head (what made Anvil-only tests pass).
FINALIZED_LAG = {"anvil": 64, "hardhat": 0}


@pytest.fixture
def ledger(deployment: Deployment, db_url: str) -> Iterator[Ledger]:
    made = Ledger(deployment.address, db_url)
    yield made
    made.close()


def _mine(deployment: Deployment, blocks: int) -> None:
    if blocks > 0:
        deployment.client().w3.provider.make_request(RPCEndpoint("hardhat_mine"), [hex(blocks)])


def _batch(ledger: Ledger) -> BatchRow:
    with ledger.store.session() as session:
        (batch,) = session.exec(select(BatchRow)).all()
        return batch


@BOTH_EVMS
def test_finalized_rule_verifies_a_batch_once_the_finalized_block_reaches_it(
    evm: str, deployment: Deployment, ledger: Ledger
) -> None:
    chain = deployment.client()
    policy = AnchorPolicy(finality=FinalityMode.FINALIZED)
    rows = ledger.record(2)

    first = ledger.cycle(chain, policy)

    assert first.batches_anchored == 1
    block = _batch(ledger).block_number
    assert block is not None
    finalized = chain.finalized_block_number()
    assert finalized is not None and chain.head_block_number() - finalized == min(
        FINALIZED_LAG[evm], chain.head_block_number()
    )
    if FINALIZED_LAG[evm] == 0:
        assert first.batches_verified == 1, "finalized is the head here: final at once"
        return
    assert first.batches_verified == 0 and first.waiting == "not_final"
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.ANCHORED
    lag = FINALIZED_LAG[evm]
    _mine(deployment, block - 1 + lag - chain.head_block_number())  # finalized is now just below the batch
    assert chain.finalized_block_number() == block - 1
    assert ledger.cycle(chain, policy).batches_verified == 0
    _mine(deployment, 1)
    assert ledger.cycle(chain, policy).batches_verified == 1
    assert ledger.status(rows[1].receipt_id) == DeltaStatus.VERIFIED


def test_a_reorg_deeper_than_the_confirmations_but_above_finality_re_anchors_a_verified_batch(
    deployment: Deployment, ledger: Ledger
) -> None:
    """One confirmation verifies at once, but Anvil's finalized block trails by 64: the verified batch is
    watched, and when its block vanishes it is announced, taken out of the balances and anchored again."""
    chain = deployment.client()
    provider = chain.w3.provider
    policy = AnchorPolicy(confirmations=1)
    with ledger.store.writer() as session:
        session.add(
            WebhookEndpointRow(
                id="whk_deep", tenant="default", url="https://example.invalid/h", events="batch.reorged",
                secret="whsec_AAAA", created_at=0, updated_at=0,
            )
        )  # fmt: skip
        session.commit()
    snapshot = provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    rows = ledger.record(3)
    assert ledger.cycle(chain, policy).batches_verified == 1
    before = _batch(ledger)

    def verified_balance() -> int:
        with ledger.store.session() as session:
            row = get_customer_balance(session=session, tenant="default", customer_id="cust_1")
            return 0 if row is None else int(row.verified_balance)

    assert verified_balance() == 7 + 14 + 21

    provider.make_request(RPCEndpoint("evm_revert"), [snapshot])  # the block holding the anchor vanishes
    _mine(deployment, 2)  # and other blocks take its height
    assert chain.block_hash_at(before.block_number or 0) != before.block_hash

    report = ledger.cycle(chain, policy)

    assert report.reorged == 1, "the verified batch's vanished block was noticed"
    assert report.batches_anchored == 1 and report.batches_verified == 1, "anchored again from the stored tx"
    with ledger.store.session() as session:
        events = [d.event_type for d in session.exec(select(WebhookDeliveryRow)).all()]
    assert events == ["batch.reorged"]
    after = _batch(ledger)
    assert after.status == BatchStatus.VERIFIED and after.block_hash != before.block_hash
    assert chain.block_hash_at(after.block_number or 0) == after.block_hash
    assert verified_balance() == 7 + 14 + 21, "taken out once and added back once"
    assert ledger.status(rows[2].receipt_id) == DeltaStatus.VERIFIED
    assert chain.next_index() == 3


def test_a_verified_batch_below_the_finalized_block_is_no_longer_watched(
    deployment: Deployment, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = deployment.client()
    ledger.record(1)
    assert ledger.cycle(chain, AnchorPolicy()).batches_verified == 1
    _mine(deployment, 70)  # past Anvil's 64-block finality lag
    calls: list[int] = []
    original = chain.block_hash_at

    def counting(number: int) -> bytes | None:
        calls.append(number)
        return original(number)

    monkeypatch.setattr(chain, "block_hash_at", counting)
    assert ledger.cycle(chain, AnchorPolicy()).reorged == 0
    assert calls == [], "a finalized batch costs no RPC call per cycle"


def test_the_finalized_rule_on_an_rpc_without_the_tag_warns_and_verifies_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    proxy = RpcProxy(deployment.rpc_url)
    proxy.rewrite = lambda method, params: ["bogus", *params[1:]] if params[:1] == ["finalized"] else params
    node = start_node(deployment, tmp_path, rpc_url=proxy.url, finality="finalized")
    try:
        with node.client() as client:
            receipt = client.post(
                "/v1/balance/delta", json={"customerId": "c", "delta": 1, "reason": "u", "referenceId": "no-tag"}
            ).json()
            wait_for_status(client, receipt["receiptId"], "anchored")
            health = wait_until(
                lambda: (h := client.get("/healthz").json())["warnings"] and h, "the missing tag is reported"
            )
            assert client.get(f"/v1/receipts/{receipt['receiptId']}").json()["status"] == "anchored"
    finally:
        node.stop()
        proxy.close()
    assert [w["code"] for w in health["warnings"]] == ["finalized_tag_not_served"]
    assert health["finality"]["rule"] == "finalized" and health["finality"]["finalizedBlock"] is None
