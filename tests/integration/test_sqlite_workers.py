"""``pacspace-node serve --workers 2`` on one SQLite file: two processes, one port, one database.

Each worker has its own recorder; SQLite's write lock serialises their group commits and the
leader lock (a flock beside the database) keeps one anchorer. The same referenceIds posted to
both at once, singly and in bulk, must give one delta each (the other request a replay of the
same receipt), gap-free chains, every delta verified, and a clean audit.
"""

from __future__ import annotations

import json
import os
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

from node.dev.chain import DEV_ANCHORER_KEY, Anvil
from tests.conftest import REPO, create_key, deploy_fresh, free_port
from tests.support import assert_one_receipt_per_reference, sql


@dataclass
class Workers:
    url: str
    db_url: str
    token: str
    env: dict[str, str]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    env.update(
        {
            "PACSPACE_DATABASE_URL": db_url,
            "PACSPACE_RPC_URL": deployment.rpc_url,
            "PACSPACE_CHAIN_ID": "31337",
            "PACSPACE_CONTRACT_ADDRESS": deployment.address,
            "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
            "PACSPACE_PORT": str(port),
            "PACSPACE_ANCHOR_INTERVAL_SECONDS": "0.2",
            "PACSPACE_RATE_LIMIT_PER_SECOND": "100000",
            "PACSPACE_RATE_LIMIT_BURST": "1000000",
            "PACSPACE_LOG_LEVEL": "WARNING",
        }
    )
    log = tmp_path / "serve.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", "--workers", "2"],
            env=env,
            cwd=REPO,
            stdout=sink,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Both workers answer (on the shared port) once one of them leads the anchoring and the other does not.
        deadline = time.monotonic() + 90
        while _seen_leaders(url, 40) != {True, False}:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "two workers, exactly one of them leading, never answered"
            time.sleep(0.2)
        yield Workers(url, db_url, token, env, process)
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
    while sql(db_url, "select count(*) from deltas where status <> 'verified'") != [(0,)]:
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
    audit = subprocess.run(
        [sys.executable, "-m", "node.cli", "audit", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=workers.env,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["ok"] is True


def test_serve_refuses_fewer_than_one_worker() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "node.cli", "serve", "--workers", "0"], capture_output=True, text=True, cwd=REPO
    )
    assert finished.returncode == 2
    assert "--workers must be at least 1" in finished.stderr
