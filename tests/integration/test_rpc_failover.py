"""Several RPC providers in front of a real Anvil, one of them dead, stuck or lying (tests/rpc_proxy.py).

Reads fail over past a dead provider and skip one that lags; before a batch is verified a second
provider must place its transaction in the same block, so a lying provider cannot make the node claim
an anchor in a block that is not there. /healthz and /metrics show each provider by name and redacted URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web3.types import RPCEndpoint

from node.anchoring.cycle import AnchorPolicy
from node.chain.client import AnchorClient, account_from_key, connect
from node.chain.providers import ProviderPool, connect_pool
from node.dev.chain import DEV_ANCHORER_KEY
from node.store.models import DeltaStatus
from tests.conftest import Deployment, start_node, wait_for_status
from tests.ledger_support import Ledger
from tests.rpc_proxy import RpcProxy
from tests.support import wait_until


@pytest.fixture
def proxies(deployment: Deployment) -> Iterator[list[RpcProxy]]:
    made = [RpcProxy(deployment.rpc_url) for _ in range(2)]
    yield made
    for proxy in made:
        proxy.close()


@pytest.fixture
def ledger(deployment: Deployment, db_url: str) -> Iterator[Ledger]:
    made = Ledger(deployment.address, db_url)
    yield made
    made.close()


def _client(deployment: Deployment, urls: list[str]) -> AnchorClient:
    w3 = connect_pool(urls, max_lag_blocks=2, timeout=5)
    return AnchorClient(w3, deployment.address, account_from_key(DEV_ANCHORER_KEY))


def _pool(chain: AnchorClient) -> ProviderPool:
    assert chain.pool is not None
    return chain.pool


def _states(chain: AnchorClient) -> dict[str, str]:
    return {view.name: view.state for view in _pool(chain).views()}


def test_a_dead_first_rpc_fails_over_and_anchoring_continues_on_the_next(
    deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]
) -> None:
    dead, second = proxies
    dead.kill()
    chain = _client(deployment, [dead.url, second.url, deployment.rpc_url])
    rows = ledger.record(3)

    report = ledger.cycle(chain, AnchorPolicy(quorum=2))

    assert report.batches_anchored == 1 and report.batches_verified == 1
    assert chain.next_index() == 3
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.VERIFIED
    assert _states(chain) == {"rpc1": "down", "rpc2": "up", "rpc3": "up"}
    assert second.requests > 0, "the second provider served the reads and the write"


def test_with_the_only_other_provider_dead_a_batch_is_anchored_but_waits_to_be_verified(
    deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]
) -> None:
    """Two URLs: the quorum is two, so one provider alone never verifies; it does once the other is back."""
    dead, _ = proxies
    dead.kill()
    chain = _client(deployment, [dead.url, deployment.rpc_url])
    rows = ledger.record(2)

    report = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert report.batches_anchored == 1 and report.batches_verified == 0
    assert report.waiting == "quorum"
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.ANCHORED

    dead.revive()
    _pool(chain).endpoints[0].retry_at = 0  # do not wait out the back-off
    report = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert report.batches_verified == 1
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.VERIFIED
    assert _states(chain)["rpc1"] == "up"


def test_a_lagging_rpc_is_skipped_for_reads(deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]) -> None:
    stuck, second = proxies
    frozen_at = stuck.freeze()
    for _ in range(4):  # the chain moves on; the stuck provider does not
        connect(deployment.rpc_url).provider.make_request(RPCEndpoint("evm_mine"), [])
    chain = _client(deployment, [stuck.url, second.url, deployment.rpc_url])
    ledger.record(2)
    first = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert first.batches_verified == 1

    ledger.record(2)
    second_cycle = ledger.cycle(chain, AnchorPolicy(quorum=2))

    # Had the stuck provider answered, its nextIndex (0, as of its block) would have stopped the job.
    assert second_cycle.batches_verified == 1 and chain.next_index() == 4
    assert _states(chain) == {"rpc1": "lagging", "rpc2": "up", "rpc3": "up"}
    views = {v.name: v for v in _pool(chain).views()}
    assert views["rpc1"].head_block == frozen_at and views["rpc1"].lag_blocks is not None
    assert views["rpc1"].lag_blocks > 2


def test_a_lying_rpc_cannot_make_a_batch_verified(
    deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]
) -> None:
    """The first provider hands out made-up block hashes. Alone, the node would believe it; with a
    second provider the block is not confirmed, the batch stays anchored, and once the liar is honest
    again the batch is re-read from the chain and verified in its real block."""
    liar, _ = proxies
    liar.lie()
    chain = _client(deployment, [liar.url, deployment.rpc_url])
    rows = ledger.record(2)

    report = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert report.batches_anchored == 1 and report.batches_verified == 0
    assert report.waiting == "providers_disagree" and report.disagreeing == ("rpc2",)
    again = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert again.batches_verified == 0
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.ANCHORED

    liar.honest()
    report = ledger.cycle(chain, AnchorPolicy(quorum=2))
    assert report.reorged == 1 and report.batches_verified == 1
    bundle = ledger.reader.proof_bundle(tenant="default", receipt_id=rows[0].receipt_id)
    real = _pool(chain).endpoints[1].w3.eth.get_block(bundle["batch"]["blockNumber"])
    assert bundle["batch"]["blockHash"] == "0x" + bytes(real["hash"]).hex()


def test_one_lying_provider_alone_would_be_believed(
    deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]
) -> None:
    """Why the quorum exists: with a quorum of one, the made-up block is what the node records."""
    liar, _ = proxies
    liar.lie()
    chain = _client(deployment, [liar.url])
    rows = ledger.record(1)
    assert ledger.cycle(chain, AnchorPolicy(quorum=1)).batches_verified == 1
    bundle = ledger.reader.proof_bundle(tenant="default", receipt_id=rows[0].receipt_id)
    real = AnchorClient(connect_pool([deployment.rpc_url]), deployment.address).block_hash_at(
        bundle["batch"]["blockNumber"]
    )
    assert bundle["batch"]["blockHash"] != "0x" + (real or b"").hex()


def test_healthz_and_metrics_show_each_provider_with_its_url_redacted(
    deployment: Deployment, tmp_path: Path, proxies: list[RpcProxy], caplog: pytest.LogCaptureFixture
) -> None:
    dead, second = proxies
    dead.kill()
    secret_dead, secret_live = "deadkey0123456789abcdef", "livekey0123456789abcdef"
    urls = f"{dead.url}/v3/{secret_dead}, {second.url}/v2/{secret_live}?token=x {deployment.rpc_url}"
    caplog.set_level(logging.INFO)
    node = start_node(deployment, tmp_path, rpc_urls=urls)
    try:
        with node.client() as client:
            receipt = client.post(
                "/v1/balance/delta",
                json={"customerId": "c1", "delta": 5, "reason": "usage", "referenceId": "rpc-failover-1"},
            ).json()
            wait_for_status(client, receipt["receiptId"], "verified")
        health = wait_until(
            lambda: (h := httpx.get(f"{node.base_url}/healthz").json())["rpcProviders"][0]["state"] == "down" and h,
            "the dead provider is shown down",
        )
        metrics = httpx.get(f"{node.base_url}/metrics").text
    finally:
        node.stop()
    providers = {p["provider"]: p for p in health["rpcProviders"]}
    assert providers["rpc1"]["url"] == f"http://127.0.0.1:{dead.port}/…"
    assert providers["rpc2"]["url"] == f"http://127.0.0.1:{second.port}/…" and providers["rpc2"]["state"] == "up"
    assert providers["rpc3"]["state"] == "up"
    assert health["finality"]["rule"] == "confirmations" and health["finality"]["quorum"] == 2
    assert any(w["code"] == "rpc_provider_down" and "rpc1" in w["detail"] for w in health["warnings"])
    assert f'pacspace_rpc_provider_up{{provider="rpc1",url="http://127.0.0.1:{dead.port}/…"}} 0.0' in metrics
    assert f'pacspace_rpc_provider_up{{provider="rpc2",url="http://127.0.0.1:{second.port}/…"}} 1.0' in metrics
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for text in (str(health), metrics, logged):
        assert secret_dead not in text and secret_live not in text and "token=x" not in text


def test_one_lying_provider_cannot_undo_a_verified_batch(
    deployment: Deployment, ledger: Ledger, proxies: list[RpcProxy]
) -> None:
    """A verified batch above the finalized block is watched for reorgs; the first provider then claims
    its block is gone, but two others still have it: the batch stays verified."""
    liar, second = proxies
    chain = _client(deployment, [liar.url, second.url, deployment.rpc_url])
    rows = ledger.record(2)
    assert ledger.cycle(chain, AnchorPolicy(quorum=2)).batches_verified == 1

    liar.lie()
    report = ledger.cycle(chain, AnchorPolicy(quorum=2))

    assert report.reorged == 0 and report.disagreeing == ("rpc1",)
    assert ledger.status(rows[0].receipt_id) == DeltaStatus.VERIFIED
