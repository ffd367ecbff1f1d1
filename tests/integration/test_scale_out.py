"""Several API processes against one real PostgreSQL (scripts/cluster's topology, no Docker).

Concurrent writes spread across processes keep every chain gap-free and every referenceId
single; exactly one process anchors; when it is killed another takes over within twice the
anchoring interval without a single reverted transaction; webhooks go out once.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from node.dev.cluster import Cluster
from tests.conftest import REPO, free_port
from tests.support import assert_one_receipt_per_reference, sql

INTERVAL = 0.5  # conftest.py keeps this module's tests on one xdist worker: one cluster for all


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("cluster"),
        api_count=2,
        anchor_interval=INTERVAL,
        durable=False,
        extra_env={"PACSPACE_WEBHOOK_POLL_SECONDS": "0.05", "PACSPACE_RATE_LIMIT_PER_SECOND": "10000"},
    ).start()
    yield running
    running.stop()


def _client(cluster: Cluster, index: int) -> httpx.Client:
    return httpx.Client(
        base_url=cluster.apis[index].url, headers={"Authorization": f"Bearer {cluster.admin_key}"}, timeout=30
    )


def _wait_all_verified(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sql(cluster.database_url, "select count(*) from deltas where status <> 'verified'") != [(0,)]:
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


def _audit(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "audit", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cluster.environment(0),
        timeout=120,
    )


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
    audit = _audit(cluster)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["ok"] is True


class _Receiver:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.ids.append(self.headers["webhook-id"])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_each_webhook_event_goes_out_once_while_both_processes_deliver(cluster: Cluster) -> None:
    receiver = _Receiver()
    try:
        with _client(cluster, 0) as first, _client(cluster, 1) as second:
            created = first.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]})
            assert created.status_code == 201, created.text
            for n in range(60):
                client = first if n % 2 else second
                body = {"customerId": "hooked", "delta": 1, "reason": "usage", "referenceId": f"hook_{n}"}
                assert client.post("/v1/balance/delta", json=body).status_code == 201
        _wait_all_verified(cluster)
        deadline = time.monotonic() + 30
        while len(set(receiver.ids)) < 60:
            assert time.monotonic() < deadline, f"{len(set(receiver.ids))} of 60 events arrived"
            time.sleep(0.05)
        time.sleep(3 * 0.05 + 0.5)  # both workers polled again several times
        duplicates = [i for i, n in Counter(receiver.ids).items() if n > 1]
        assert duplicates == [], f"delivered more than once: {duplicates[:5]}"
    finally:
        receiver.server.shutdown()


def test_a_killed_leader_is_replaced_within_two_intervals_without_a_refused_transaction(cluster: Cluster) -> None:
    deadline = time.monotonic() + 10
    while len(leaders := cluster.leaders()) != 1:
        assert time.monotonic() < deadline, f"leaders: {leaders}"
        time.sleep(0.05)
    leader = leaders[0]
    standby = 1 - leader
    stop = threading.Event()
    posted: list[int] = []
    counter = itertools.count()

    def keep_posting() -> None:
        with _client(cluster, standby) as client:
            while not stop.is_set():
                n = next(counter)
                body = {"customerId": f"failover_{n % 3}", "delta": 2, "reason": "usage", "referenceId": f"fo_{n}"}
                response = client.post("/v1/balance/delta", json=body)
                assert response.status_code == 201, response.text
                posted.append(n)

    writer = threading.Thread(target=keep_posting)
    writer.start()
    try:
        time.sleep(1.3)  # the leader is mid-way through anchoring a stream of batches
        cluster.kill(leader)
        killed_at = time.monotonic()
        while not (cluster.health(standby) or {}).get("anchoringLeader"):
            assert time.monotonic() - killed_at < 10, "no process took over"
            time.sleep(0.01)
        takeover = time.monotonic() - killed_at
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join()
    assert takeover <= 2 * INTERVAL, f"took {takeover:.2f} s"
    assert posted, "the writer posted nothing"
    _wait_all_verified(cluster)
    assert cluster.reverted_anchor_transactions() == []
    _assert_gap_free(_chain_rows(cluster))
    cluster.restart(leader)
    time.sleep(3 * INTERVAL)
    assert cluster.leaders() == [standby], "the restarted process must stand by"
    audit = _audit(cluster)
    assert audit.returncode == 0, audit.stdout + audit.stderr
