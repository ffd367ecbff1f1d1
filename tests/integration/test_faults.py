"""Faults done for real: a stopped chain, a locked database, a storm of retries."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.dev.chain import free_port, start_anvil
from node.dev.postgres import start_postgres
from tests.conftest import BOTH_BACKENDS, Deployment, RunningNode, deploy_fresh, start_node, wait_for_status
from tests.support import sql

DELTA = {"customerId": "f", "delta": 9, "reason": "usage", "referenceId": "storm-1"}


@BOTH_BACKENDS
def test_a_hundred_concurrent_retries_record_exactly_one_delta(node: RunningNode) -> None:
    def post(_i: int) -> tuple[int, str]:
        with node.client() as client:
            response = client.post("/v1/balance/delta", json=DELTA)
            return response.status_code, response.json()["receiptId"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(post, range(100)))
    assert sorted({code for code, _ in results}) == [200, 201]
    assert [code for code, _ in results].count(201) == 1
    assert len({receipt for _, receipt in results}) == 1
    assert sql(node.db_url, "select count(*) from deltas") == [(1,)]


def test_postgres_going_away_answers_503_and_the_node_recovers_when_it_returns(
    deployment: Deployment, tmp_path: Path
) -> None:
    cluster = start_postgres(free_port(), durable=True)  # fsync on: an immediate stop is a crash
    node = None
    try:
        url = cluster.create_database("restarted")
        node = start_node(deployment, tmp_path, url, db_busy_timeout_ms=1000)
        with node.client() as client:
            first = client.post("/v1/balance/delta", json={**DELTA, "referenceId": "before"})
            assert first.status_code == 201, first.text
            cluster.stop_server()  # immediate shutdown, like a crash of the database host
            down = client.post("/v1/balance/delta", json={**DELTA, "referenceId": "during"})
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "database_unavailable" and down.headers["retry-after"] == "1"
            cluster.start_server()
            again = client.post("/v1/balance/delta", json={**DELTA, "referenceId": "during"})
            assert again.status_code == 201, again.text
            assert again.json()["customerIndex"] == 1  # the refused attempt left nothing behind
            wait_for_status(client, first.json()["receiptId"], "verified")
            wait_for_status(client, again.json()["receiptId"], "verified")
            health = client.get("/healthz").json()
            assert health["anchoringLeader"] is True and health["database"] == "postgresql"
    finally:
        if node is not None:
            node.stop()
        cluster.stop()


def test_a_locked_database_answers_503_and_recovers(artifact: Path, anvil: Any, tmp_path: Path) -> None:
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(deployment, tmp_path, db_busy_timeout_ms=200, run_anchorer=False)
    try:
        blocker = sqlite3.connect(node.db_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with node.client() as client:
            locked = client.post("/v1/balance/delta", json=DELTA)
            assert locked.status_code == 503, locked.text
            assert locked.json()["code"] == "database_unavailable" and locked.headers["retry-after"] == "1"
            blocker.execute("ROLLBACK")
            blocker.close()
            recovered = client.post("/v1/balance/delta", json=DELTA)
            assert recovered.status_code == 201, recovered.text
        with sqlite3.connect(node.db_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("select count(*) from deltas").fetchone()[0] == 1
    finally:
        node.stop()


def test_the_api_keeps_recording_while_the_chain_is_down(artifact: Path, tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "anvil-state.json"
    chain = start_anvil(port=port, state_file=state)
    deployment = deploy_fresh(chain.rpc_url, artifact)
    node = start_node(deployment, tmp_path, anchor_interval_seconds=0.2)
    try:
        with node.client() as client:
            first = client.post("/v1/balance/delta", json={**DELTA, "referenceId": "before"}).json()
            wait_for_status(client, first["receiptId"], "verified")
            chain.stop()  # the RPC provider is gone (Anvil writes its state on the way out)

            during = [client.post("/v1/balance/delta", json={**DELTA, "referenceId": f"during-{i}"}) for i in range(3)]
            assert [r.status_code for r in during] == [201, 201, 201]
            deadline = time.monotonic() + 15
            while client.get("/healthz").json()["status"] != "degraded":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            metrics = httpx.get(node.base_url + "/metrics").text
            failures = re.search(r'pacspace_anchor_cycle_failures_total\{reason="chain_unavailable"\} (\d+)', metrics)
            assert failures and int(failures.group(1)) >= 1
            backoff = re.search(r"^pacspace_anchor_backoff_seconds ([0-9.e+-]+)$", metrics, re.M)
            assert backoff and float(backoff.group(1)) > 0, "the anchorer backs off while the chain is down"
            assert all(
                client.get(f"/v1/receipts/{r.json()['receiptId']}").json()["status"] == "pending" for r in during
            )

            chain = start_anvil(port=port, state_file=state)  # the provider is back, with its chain
            for response in during:
                wait_for_status(client, response.json()["receiptId"], "verified", timeout=90)
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        node.stop()
        chain.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB filesystem of its own (tmpfs; the tests run as root, as CI does)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_answers_503_and_recovers(artifact: Path, anvil: Any, tmp_path: Path, tiny_disk: Path) -> None:
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(deployment, tiny_disk, run_anchorer=False)
    try:
        filler = tiny_disk / "filler"
        with node.client() as client:
            assert client.post("/v1/balance/delta", json={**DELTA, "referenceId": "ok-0"}).status_code == 201
            with contextlib.suppress(OSError), filler.open("wb") as f:  # take every free byte
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            statuses = []
            for i in range(40):
                body = {**DELTA, "referenceId": f"full-{i}", "metadata": {"pad": "x" * 8000}}
                statuses.append(client.post("/v1/balance/delta", json=body).status_code)
                if statuses[-1] == 503:
                    break
            assert statuses[-1] == 503, statuses
            refused = client.post(
                "/v1/balance/delta", json={**DELTA, "referenceId": "full-x", "metadata": {"p": "x" * 8000}}
            )
            assert refused.status_code == 503 and refused.json()["code"] == "database_unavailable"
            filler.unlink()
            assert client.post("/v1/balance/delta", json={**DELTA, "referenceId": "ok-1"}).status_code == 201
        with sqlite3.connect(node.db_url.removeprefix("sqlite:///")) as conn:
            refs = {row[0] for row in conn.execute("select reference_id from deltas")}
        acknowledged = {"ok-0", "ok-1"} | {f"full-{i}" for i, s in enumerate(statuses) if s == 201}
        assert refs == acknowledged, "exactly the acknowledged deltas, nothing half-written"
    finally:
        node.stop()
