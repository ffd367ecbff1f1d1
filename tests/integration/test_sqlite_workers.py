"""``pacspace-node serve --workers 2`` on one SQLite file: two processes, one port, one database.

Each worker has its own recorder; SQLite's write lock serialises their group commits and the
leader lock (a flock beside the database) keeps one anchorer. The same referenceIds posted to
both at once, singly and in bulk, must give one delta each (the other request a replay of the
same receipt), gap-free chains, every delta verified, and a clean audit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from node.dev.chain import Anvil, free_port
from tests.conftest import REPO, Deployment, create_key, deploy_fresh, node_env, run_audit, serve
from tests.support import UNVERIFIED_SQL, assert_one_receipt_per_reference, sql


@dataclass
class Workers:
    url: str
    db_url: str
    token: str
    deployment: Deployment
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


def _seen_leaders(url: str, attempts: int) -> set[bool]:
    """``anchoringLeader`` as answered on ``attempts`` fresh connections (each accepted by either worker)."""
    seen: set[bool] = set()
    for _ in range(attempts):
        try:
            with httpx.Client(base_url=url, timeout=5) as fresh:
                seen.add(bool(fresh.get("/healthz").json()["anchoringLeader"]))
        except httpx.TransportError:
            pass
        if seen == {True, False}:
            break
    return seen


@pytest.fixture
def workers(anvil: Anvil, artifact: Path, tmp_path: Path) -> Iterator[Workers]:
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    token = create_key(db_url)
    port = free_port()
    env = node_env(
        db_url,
        deployment,
        port=str(port),
        anchor_interval_seconds="0.2",
        rate_limit_per_second="100000",
        rate_limit_burst="1000000",
        log_level="WARNING",
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        """Both workers answer (on the shared port): one of them leads the anchoring, the other does not."""
        return _seen_leaders(url, 40) == {True, False}

    process = serve(env, tmp_path / "serve.log", ready, "--workers", "2", timeout=90)
    try:
        yield Workers(url, db_url, token, deployment, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _assert_gap_free(db_url: str) -> None:
    rows = sql(
        db_url,
        "select customer_id, customer_index, prev_fingerprint, fingerprint from deltas "
        "order by customer_id, customer_index",
    )
    chains: dict[str, list[tuple[int, bytes, bytes]]] = {}
    for customer, index, prev, fingerprint in rows:
        chains.setdefault(customer, []).append((index, bytes(prev), bytes(fingerprint)))
    for customer, links in chains.items():
        assert [index for index, _p, _f in links] == list(range(len(links))), customer
        previous = b"\x00" * 32
        for _index, prev, fingerprint in links:
            assert prev == previous, f"{customer}: a link does not name its predecessor"
            previous = fingerprint


def _wait_all_verified(db_url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while sql(db_url, UNVERIFIED_SQL) != [(0,)]:
        assert time.monotonic() < deadline, "deltas still not verified"
        time.sleep(0.1)


def test_two_workers_on_one_sqlite_file_record_each_reference_once_with_gap_free_chains(workers: Workers) -> None:
    customers = [f"w_{c}" for c in range(5)]
    references = [f"single_{n}" for n in range(300)]
    # Each referenceId is sent twice at the same moment, on two of 16 connections (spread over both workers).
    jobs = [(ref, n % len(customers)) for n, ref in enumerate(references) for _copy in (0, 1)]
    clients = [workers.client() for _ in range(16)]

    def post(indexed: tuple[int, tuple[str, int]]) -> tuple[str, int, str]:
        i, (ref, customer) = indexed
        body = {"customerId": customers[customer], "delta": 3 + customer, "reason": "usage", "referenceId": ref}
        response = clients[i % len(clients)].post("/v1/balance/delta", json=body, headers={"Idempotency-Key": ref})
        return ref, response.status_code, response.json().get("receiptId", response.text)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, enumerate(jobs)))

    # Bulk: two requests at once with the same 200 items (plus a few new to each), both workers recording.
    shared = [
        {"customerId": customers[n % len(customers)], "delta": -1 - n, "reason": "bulk", "referenceId": f"bulk_{n}"}
        for n in range(200)
    ]

    def post_bulk(side: int) -> list[dict[str, object]]:
        own = [
            {"customerId": customers[0], "delta": 9, "reason": "bulk", "referenceId": f"own_{side}_{n}"}
            for n in range(5)
        ]
        response = clients[side].post("/v1/balance/deltas", json={"deltas": shared + own})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["failed"] == 0, body
        return list(body["results"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        bulk_results = list(pool.map(post_bulk, (0, 1)))
    for client in clients:
        client.close()

    assert_one_receipt_per_reference(results, references)

    for n in range(len(shared)):
        pair = [bulk_results[0][n], bulk_results[1][n]]
        assert sorted(int(str(item["status"])) for item in pair) == [200, 201], pair
        first, second = (item["receipt"] for item in pair)
        assert isinstance(first, dict) and isinstance(second, dict)
        assert first["receiptId"] == second["receiptId"]
        assert first["signature"] == second["signature"]

    expected = len(references) + len(shared) + 2 * 5
    assert sql(workers.db_url, "select count(*) from deltas") == [(expected,)]
    assert sql(workers.db_url, "select count(distinct reference_id) from deltas") == [(expected,)]
    _assert_gap_free(workers.db_url)
    _wait_all_verified(workers.db_url)
    assert _seen_leaders(workers.url, 40) == {True, False}, "not exactly one anchoring leader"
    status, report = run_audit(workers.db_url, workers.deployment)
    assert status == 0 and report["ok"] is True, report


def test_serve_refuses_fewer_than_one_worker() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "node.cli", "serve", "--workers", "0"], capture_output=True, text=True, cwd=REPO
    )
    assert finished.returncode == 2
    assert "--workers must be at least 1" in finished.stderr
