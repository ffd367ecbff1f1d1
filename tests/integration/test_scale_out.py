"""Several API processes against one real PostgreSQL (scripts/cluster's topology, no Docker).

Concurrent writes spread across processes keep every chain gap-free and every referenceId
single; exactly one process anchors; when it is killed another takes over within twice the
anchoring interval without a single reverted transaction; webhooks go out once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from node.dev.cluster import Cluster
from tests.conftest import LOCAL_RECEIVERS_ENV, Deployment, run_audit
from tests.support import (
    UNVERIFIED_SQL,
    WebhookReceiver,
    assert_one_receipt_per_reference,
    assert_stays,
    sql,
    wait_until,
)

INTERVAL = 0.5  # conftest.py keeps this module's tests on one xdist worker: one cluster for all


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("cluster"),
        api_count=2,
        anchor_interval=INTERVAL,
        durable=False,
        extra_env={
            "PACSPACE_WEBHOOK_POLL_SECONDS": "0.05",
            "PACSPACE_RATE_LIMIT_PER_SECOND": "10000",
            **LOCAL_RECEIVERS_ENV,
        },
    ).start()
    yield running
    running.stop()


def _client(cluster: Cluster, index: int) -> httpx.Client:
    return httpx.Client(
        base_url=cluster.apis[index].url, headers={"Authorization": f"Bearer {cluster.admin_key}"}, timeout=30
    )


def _wait_all_verified(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sql(cluster.database_url, UNVERIFIED_SQL) != [(0,)]:
        assert time.monotonic() < deadline, "deltas still not verified"
        time.sleep(0.1)


def _chain_rows(cluster: Cluster) -> dict[str, list[tuple[int, bytes, bytes]]]:
    chains: dict[str, list[tuple[int, bytes, bytes]]] = {}
    rows = sql(
        cluster.database_url,
        "select customer_id, customer_index, prev_fingerprint, fingerprint from deltas "
        "order by customer_id, customer_index",
    )
    for customer, index, prev, fingerprint in rows:
        chains.setdefault(customer, []).append((index, bytes(prev), bytes(fingerprint)))
    return chains


def _assert_gap_free(chains: dict[str, list[tuple[int, bytes, bytes]]]) -> None:
    for customer, links in chains.items():
        assert [index for index, _p, _f in links] == list(range(len(links))), customer
        previous = b"\x00" * 32
        for _index, prev, fingerprint in links:
            assert prev == previous, f"{customer}: a link does not name its predecessor"
            previous = fingerprint


def _audit(cluster: Cluster) -> dict[str, Any]:
    assert cluster.anvil is not None
    status, report = run_audit(cluster.database_url, Deployment(cluster.anvil.rpc_url, cluster.contract))
    assert status == 0 and report["ok"] is True, report
    return report


def test_concurrent_writes_across_processes_keep_chains_gap_free_and_references_single(cluster: Cluster) -> None:
    customers = [f"scale_{c}" for c in range(4)]
    references = [f"ref_{n}" for n in range(240)]
    # Every referenceId is sent twice, once to each process, from different threads at once.
    jobs = [(ref, n % 4, api) for n, ref in enumerate(references) for api in (0, 1)]
    clients = [_client(cluster, 0), _client(cluster, 1)]

    def post(job: tuple[str, int, int]) -> tuple[str, int, str]:
        ref, customer, api = job
        body = {"customerId": customers[customer], "delta": 5 + customer, "reason": "usage", "referenceId": ref}
        response = clients[api].post("/v1/balance/delta", json=body)
        return ref, response.status_code, response.json().get("receiptId", response.text)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, jobs))
    for client in clients:
        client.close()

    assert_one_receipt_per_reference(results, references)
    assert sql(cluster.database_url, "select count(*) from deltas where customer_id like 'scale_%'") == [
        (len(references),)
    ]
    _assert_gap_free(_chain_rows(cluster))
    _wait_all_verified(cluster)
    _audit(cluster)


def test_each_webhook_event_goes_out_once_while_both_processes_deliver(cluster: Cluster) -> None:
    with WebhookReceiver() as receiver:
        with _client(cluster, 0) as first, _client(cluster, 1) as second:
            created = first.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]})
            assert created.status_code == 201, created.text
            for n in range(60):
                client = first if n % 2 else second
                body = {"customerId": "hooked", "delta": 1, "reason": "usage", "referenceId": f"hook_{n}"}
                assert client.post("/v1/balance/delta", json=body).status_code == 201
        _wait_all_verified(cluster)
        wait_until(lambda: len(set(receiver.ids())) >= 60, f"{len(set(receiver.ids()))} of 60 events arrived")
        unsent = f"select count(*) from webhook_deliveries where endpoint_id = '{created.json()['id']}'"
        wait_until(
            lambda: sql(cluster.database_url, unsent + " and status <> 'delivered'") == [(0,)],
            "a delivery is still queued",
        )
        assert sql(cluster.database_url, unsent) == [(60,)], "one delivery row per event"
        # Every row is delivered; a duplicate would be a send by a worker that claimed a row before the
        # other marked it delivered, and reaches this loopback receiver within a poll or two.
        assert_stays(lambda: len(receiver.ids()), 10 * 0.05, "a delivery arrived after every row was delivered")
        duplicates = [i for i, n in Counter(receiver.ids()).items() if n > 1]
        assert duplicates == [], f"delivered more than once: {duplicates[:5]}"


def test_a_killed_leader_is_replaced_within_two_intervals_without_a_refused_transaction(
    cluster: Cluster, record_property: Callable[[str, object], None]
) -> None:
    """The behaviour is checked here: a standby takes over, not one write is refused meanwhile, not one
    anchor transaction reverts, and the chains stay gap-free. How fast it takes over (two intervals,
    docs/DEPLOYMENT.md) is measured by bench/bench_failover.py; on a loaded CI machine a wall-clock
    bound would fail for the machine's sake, so the figure is only recorded here."""

    def one_leader() -> list[int] | None:
        found = cluster.leaders()
        return found if len(found) == 1 else None

    leaders: list[int] = wait_until(one_leader, "not exactly one process leads", 10)
    leader = leaders[0]
    standby = 1 - leader
    stop = threading.Event()
    posted: list[int] = []
    errors: list[str] = []  # every refused or failed write: the thread only collects, the test asserts
    counter = itertools.count()

    def keep_posting() -> None:
        try:
            with _client(cluster, standby) as client:
                while not stop.is_set():
                    n = next(counter)
                    body = {"customerId": f"failover_{n % 3}", "delta": 2, "reason": "usage", "referenceId": f"fo_{n}"}
                    response = client.post("/v1/balance/delta", json=body)
                    if response.status_code == 201:
                        posted.append(n)
                    else:
                        errors.append(f"fo_{n}: {response.status_code} {response.text[:300]}")
        except Exception as exc:
            errors.append(f"the writer failed: {exc!r}")

    writer = threading.Thread(target=keep_posting)
    writer.start()
    try:
        # The leader is anchoring a stream of batches: some of the writer's deltas are anchored already.
        anchored = "select count(*) from deltas where customer_id like 'failover_%' and log_index is not null"
        wait_until(lambda: sql(cluster.database_url, anchored)[0][0] > 0 or errors, "the leader anchored nothing")
        cluster.kill(leader)
        killed_at = time.monotonic()
        wait_until(lambda: (cluster.health(standby) or {}).get("anchoringLeader"), "no process took over", 30, 0.01)
        takeover = time.monotonic() - killed_at
        at_takeover = len(posted)
        wait_until(lambda: len(posted) >= at_takeover + 20 or errors, "the writer stalled after the takeover")
    finally:
        stop.set()
        writer.join()
    record_property("takeover_seconds", round(takeover, 3))
    print(f"takeover after {takeover:.2f} s (documented bound {2 * INTERVAL:.2f} s; bench/bench_failover.py)")
    assert errors == [], f"{len(errors)} writes refused or failed during failover: {errors[:5]}"
    assert posted, "the writer posted nothing"
    _wait_all_verified(cluster)
    assert cluster.reverted_anchor_transactions() == []
    _assert_gap_free(_chain_rows(cluster))
    cluster.restart(leader)
    # The restarted process tries the lock at each cycle (every INTERVAL): three give it three tries.
    assert cluster.leaders() == [standby], "the restarted process must stand by"
    assert_stays(cluster.leaders, 3 * INTERVAL, "the restarted process must stand by", every=INTERVAL / 2)
    _audit(cluster)
