"""The fee policy on a real Anvil whose base fee the tests move (``anvil_setNextBlockBaseFeePerGas``).

A fee spike above PACSPACE_MAX_FEE_GWEI holds the batch while recording goes on (metric and health
warning), and anchoring resumes when fees fall; a stuck transaction is never replaced above the cap;
a daily budget holds batches until the next UTC day; a rollup's L1 data fee counts in the cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_typing import Hash32
from sqlmodel import select
from web3.types import RPCEndpoint

from node.anchoring.cycle import AnchorPolicy
from node.anchoring.policy import HELD_BUDGET, HELD_FEES
from node.chain.client import AnchorClient, account_from_key, connect
from node.core.fees import WEI_PER_GWEI, FeePolicy
from node.dev.chain import DEV_ANCHORER_KEY, Anvil, free_port, start_anvil
from node.store.models import BatchRow, DeltaStatus
from node.usage.service import build_usage_report
from tests.conftest import Deployment, deploy_fresh, start_node, wait_for_status
from tests.ledger_support import Ledger
from tests.rpc_proxy import RpcProxy
from tests.support import wait_until

GWEI = WEI_PER_GWEI


@pytest.fixture(scope="module")
def fee_anvil() -> Iterator[Anvil]:
    """An Anvil of this module's own: its base fee is moved around here."""
    chain = start_anvil(port=free_port())
    yield chain
    chain.stop()


@pytest.fixture
def fee_chain(fee_anvil: Anvil, artifact: Path) -> Iterator[Deployment]:
    deployment = deploy_fresh(fee_anvil.rpc_url, artifact)
    _set_base_fee(deployment, 1 * GWEI)
    yield deployment
    _rpc(deployment, "evm_setAutomine", [True])
    _set_base_fee(deployment, 1 * GWEI)


@pytest.fixture
def ledger(fee_chain: Deployment, db_url: str) -> Iterator[Ledger]:
    made = Ledger(fee_chain.address, db_url)
    yield made
    made.close()


def _rpc(deployment: Deployment, method: str, params: list[Any]) -> Any:
    return connect(deployment.rpc_url).provider.make_request(RPCEndpoint(method), params).get("result")


def _set_base_fee(deployment: Deployment, wei: int) -> None:
    """The next block's base fee is ``wei``; mine it, so the latest block shows it."""
    _rpc(deployment, "anvil_setNextBlockBaseFeePerGas", [hex(wei)])
    _rpc(deployment, "evm_mine", [])


def _nonce(deployment: Deployment) -> int:
    return int(connect(deployment.rpc_url).eth.get_transaction_count(account_from_key(DEV_ANCHORER_KEY).address))


def test_a_fee_spike_holds_the_batch_while_recording_goes_on_and_anchoring_resumes(
    fee_chain: Deployment, tmp_path: Path
) -> None:
    _set_base_fee(fee_chain, 100 * GWEI)  # the market is at 100 gwei; the cap is 50
    nonce = _nonce(fee_chain)
    node = start_node(fee_chain, tmp_path, max_fee_gwei="50", max_priority_fee_gwei="2")
    try:
        with node.client() as client:
            receipts = []
            for i in range(3):
                answer = client.post(
                    "/v1/balance/delta",
                    json={"customerId": "c1", "delta": 5 + i, "reason": "usage", "referenceId": f"spike-{i}"},
                )
                assert answer.status_code == 201, "recording goes on during the spike"
                receipts.append(answer.json()["receiptId"])
            health = wait_until(
                lambda: (h := httpx.get(f"{node.base_url}/healthz").json())["fees"]["held"] == HELD_FEES and h,
                "the batch is held for fees",
            )
            assert any(w["code"] == HELD_FEES for w in health["warnings"])
            assert health["fees"]["maxFeeWei"] == str(50 * GWEI) and health["fees"]["baseFeeWei"] == str(100 * GWEI)
            metrics = _metrics(node.base_url)
            assert metrics['pacspace_anchor_held{reason="fees_above_cap"}'] == 1
            assert metrics["pacspace_anchor_max_fee_wei"] == 50 * GWEI
            assert client.get(f"/v1/receipts/{receipts[0]}").json()["status"] == "pending"
            assert _nonce(fee_chain) == nonce, "nothing was sent above the cap"

            _set_base_fee(fee_chain, 1 * GWEI)  # fees fall
            for receipt in receipts:
                wait_for_status(client, receipt, "verified")
            health = wait_until(
                lambda: (h := httpx.get(f"{node.base_url}/healthz").json())["fees"]["held"] is None and h,
                "the hold is lifted",
            )
            assert not [w for w in health["warnings"] if w["code"] == HELD_FEES]
            assert _metrics(node.base_url)['pacspace_anchor_held{reason="fees_above_cap"}'] == 0
            proof = client.get(f"/v1/receipts/{receipts[0]}/proof").json()
        tx = connect(fee_chain.rpc_url).eth.get_transaction(proof["batch"]["txHash"])
        assert tx["maxFeePerGas"] <= 50 * GWEI and tx["maxPriorityFeePerGas"] <= 2 * GWEI
    finally:
        node.stop()


def test_a_stuck_transaction_is_never_replaced_above_the_cap(
    fee_chain: Deployment, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent at the cap and not mined in time: replacing it would mean paying more than the cap, so it
    waits. The base fee then jumps past it (Anvil evicts it from its pool; geth would keep it): sending
    it again is refused, which is a fee hold, not an error. Once fees fall the same transaction is mined."""
    chain = fee_chain.client()
    signed: list[dict[str, Any]] = []
    original = chain.sign_anchor

    def spy(**kwargs: Any) -> tuple[bytes, bytes]:
        signed.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(chain, "sign_anchor", spy)
    policy = AnchorPolicy(receipt_timeout=0.3, fees=FeePolicy(max_fee=3 * GWEI))
    rows = ledger.record(2)
    _rpc(fee_chain, "evm_setAutomine", [False])

    first = ledger.cycle(chain, policy)
    assert len(signed) == 1 and signed[0]["fees"].max_fee == 3 * GWEI  # 2 x 1 gwei base + 1 gwei tip, capped
    assert first.batches_anchored == 0 and first.replacements_capped == 1, "no replacement above the cap"
    (tx_hash,) = {row.tx_hash for row in _batches(ledger)}
    assert tx_hash is not None and chain.is_pending_transaction(tx_hash)

    _set_base_fee(fee_chain, 20 * GWEI)  # a block without our transaction: it offers only 3 gwei
    spiked = ledger.cycle(chain, policy)
    assert spiked.batches_anchored == 0 and spiked.held == HELD_FEES and len(signed) == 1

    _set_base_fee(fee_chain, 1 * GWEI)  # fees fall: the same transaction is sent again and mined as it is
    _rpc(fee_chain, "evm_setAutomine", [True])
    report = ledger.cycle(chain, policy)
    assert report.batches_verified == 1 and len(signed) == 1
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.VERIFIED
    assert _batches(ledger)[0].tx_hash == tx_hash
    assert int(connect(fee_chain.rpc_url).eth.get_transaction(Hash32(tx_hash))["maxFeePerGas"]) == 3 * GWEI


def test_a_spent_daily_budget_holds_batches_until_the_next_utc_day(fee_chain: Deployment, ledger: Ledger) -> None:
    chain = fee_chain.client()
    today = datetime(2030, 5, 1, 12, tzinfo=UTC).timestamp()
    ledger.record(2)
    assert ledger.cycle(chain, AnchorPolicy(), clock=lambda: today).batches_verified == 1
    (first,) = _batches(ledger)
    cost = (first.gas_used or 0) * (first.effective_gas_price or 0)
    # Room for one more transaction a day, but not for a second one today: the next one is projected
    # at the last one's gas and the going max fee (up to twice the base fee plus the tip).
    policy = AnchorPolicy(fees=FeePolicy(daily_budget=2 * cost))
    ledger.record(2)
    held = ledger.cycle(chain, policy, clock=lambda: today + 3600)
    assert held.held == HELD_BUDGET and held.batches_prepared == 0
    tomorrow = ledger.cycle(chain, policy, clock=lambda: today + 13 * 3600)
    assert tomorrow.held is None and tomorrow.batches_verified == 1


def test_an_op_stack_l1_fee_counts_in_the_cost_per_verified_delta(fee_chain: Deployment, ledger: Ledger) -> None:
    proxy = RpcProxy(fee_chain.rpc_url)
    proxy.l1_fee = 123_456_789_000  # as an OP Stack receipt's l1Fee
    try:
        chain = AnchorClient(connect(proxy.url), fee_chain.address, account_from_key(DEV_ANCHORER_KEY))
        now = time.time()
        ledger.record(4)
        report = ledger.cycle(chain, AnchorPolicy(), clock=lambda: now)
    finally:
        proxy.close()
    (batch,) = _batches(ledger)
    assert batch.l1_fee == 123_456_789_000
    gas_cost = (batch.gas_used or 0) * (batch.effective_gas_price or 0)
    assert gas_cost > 0 and report.cost_wei == gas_cost + 123_456_789_000
    day = datetime.fromtimestamp(now, UTC).date()
    usage = build_usage_report(ledger.store, tenant="default", first=day, last=day, native_price=None, currency="USD")
    assert usage.totals.cost_per_verified_delta_wei == (gas_cost + 123_456_789_000) // 4


def _batches(ledger: Ledger) -> list[BatchRow]:
    with ledger.store.session() as session:
        return list(session.exec(select(BatchRow)).all())


def _metrics(base_url: str) -> dict[str, float]:
    """``/metrics`` as {"name{labels}": value}."""
    values = {}
    for line in httpx.get(f"{base_url}/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values
