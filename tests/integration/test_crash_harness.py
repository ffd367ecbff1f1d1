"""kill -9 the node at random moments under concurrent load, many times; nothing acknowledged is lost.

Each round starts `pacspace-node serve` as a real process, lets 8 clients record deltas, and
SIGKILLs the process after a random delay (during POSTs, tree builds, broadcasts, receipts and
confirmations alike, since the anchoring job runs every 50 ms). At the end every acknowledged
receipt must be verified with a proof the contract accepts, with no gap, no duplicate, and
`pacspace-node audit` clean.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from node.core.hashing import from_hex
from node.dev.chain import Anvil, free_port
from tests.conftest import Deployment, create_key, deploy_fresh, healthz_ok, node_env, run_audit, serve

ROUNDS = 6


def _env(db_url: str, deployment: Deployment, port: int) -> dict[str, str]:
    return node_env(
        db_url,
        deployment,
        port=str(port),
        anchor_interval_seconds="0.05",
        anchor_trigger_pending="5",
        rate_limit_burst="1000000",
        log_level="WARNING",
    )


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return serve(env, log, lambda: healthz_ok(f"http://127.0.0.1:{port}"))


def test_kill_9_at_random_points_loses_nothing(anvil: Anvil, artifact: Path, tmp_path: Path) -> None:
    rng = random.Random(1234)
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    token = create_key(db_url)
    port = free_port()
    env = _env(db_url, deployment, port)
    base = f"http://127.0.0.1:{port}"
    acknowledged: dict[str, str] = {}  # referenceId -> receiptId
    refused: Counter[int] = Counter()  # every other answer the node gave, by status
    refusals: list[str] = []  # the first few bodies of answers that are not allowed
    lock = threading.Lock()
    counter = iter(range(10**9))

    def client_loop(stop: threading.Event) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=5) as client:
            while not stop.is_set():
                ref = f"crash-{next(counter)}"
                customer = f"c{rng.randrange(3)}"
                try:
                    response = client.post(
                        "/v1/balance/delta",
                        json={"customerId": customer, "delta": 1, "reason": "u", "referenceId": ref},
                    )
                except httpx.TransportError:
                    continue  # the node died under this request: not acknowledged
                with lock:
                    if response.status_code in (200, 201):
                        acknowledged[ref] = response.json()["receiptId"]
                    else:
                        refused[response.status_code] += 1
                        if response.status_code != 503 and len(refusals) < 5:
                            refusals.append(f"{response.status_code} {response.text[:300]}")

    for _round in range(ROUNDS):
        process = _start(env, port, tmp_path / "node.log")
        stop = threading.Event()
        clients = [threading.Thread(target=client_loop, args=(stop,)) for _ in range(8)]
        for thread in clients:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        stop.set()
        for thread in clients:
            thread.join()

    process = _start(env, port, tmp_path / "node.log")
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            deadline = time.monotonic() + 120
            pending = dict(acknowledged)
            while pending:
                assert time.monotonic() < deadline, f"{len(pending)} acknowledged deltas never verified"
                for ref, receipt_id in list(pending.items()):
                    body = client.get(f"/v1/receipts/{receipt_id}").json()
                    assert body["referenceId"] == ref
                    if body["status"] == "verified":
                        del pending[ref]
                time.sleep(0.2)
            chain = deployment.client()
            for receipt_id in rng.sample(sorted(acknowledged.values()), min(40, len(acknowledged))):
                bundle = client.get(f"/v1/receipts/{receipt_id}/proof").json()
                batch = bundle["batch"]
                assert chain.verify_on_chain(
                    start_index=batch["startIndex"], count=batch["count"], root=from_hex(batch["root"]),
                    log_index=bundle["logIndex"], fingerprint=from_hex(bundle["fingerprint"]),
                    proof=[from_hex(p) for p in bundle["proof"]],
                )  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    # The design allows a 503 (the node's store is unavailable for a moment, a retryable answer) and
    # nothing else: a 500 is a bug, and a 4xx means the harness sent something the node refuses.
    assert set(refused) <= {503}, f"answers other than 200/201/503: {dict(refused)}; {refusals}"
    status, report = run_audit(db_url, deployment)
    assert status == 0 and report["ok"] is True, report
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        stored = conn.execute("select count(*), count(distinct reference_id), max(log_index) from deltas").fetchone()
        unanchored = conn.execute("select count(*) from deltas where log_index is null").fetchone()[0]
    count, distinct, max_log = stored
    assert count == distinct, "a referenceId was recorded twice"
    assert unanchored == 0 and max_log == count - 1, "log indexes are 0..n-1 without a gap"
    assert deployment.client().next_index() == count, "the contract anchored each delta exactly once"
    assert len(acknowledged) > 50, "the harness must have put the node under load"
    print(
        f"crash harness: {ROUNDS} kills, {len(acknowledged)} acknowledged, {count} stored, 0 lost, 0 duplicated, "
        f"{refused[503]} answered 503"
    )
