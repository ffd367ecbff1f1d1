"""The two verifiers over the same export: the TypeScript ``pacspace-verify-js`` against the Python
``pacspace-verify``, each as a user runs it (a process of its own, ``derive`` mode, all 14 checks of every
bundle and the export checks) against the same Anvil, in the same run, interleaved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchkit.loadgen import median
from benchkit.node_harness import REPO, start_node
from benchkit.table import Row

CLI_JS = REPO / "clients" / "typescript" / "dist" / "verify" / "cli.js"


def _record(base_url: str, token: str, customer: str, count: int) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for start in range(0, count, 1000):
            items = [
                {"customerId": customer, "delta": -(i % 97 + 1), "reason": "usage", "referenceId": f"v{i}"}
                for i in range(start, min(start + 1000, count))
            ]
            response = client.post("/v1/balance/deltas", json={"deltas": items})
            assert response.status_code == 200 and response.json()["failed"] == 0, response.text[:300]
        deadline = time.monotonic() + 600
        while client.get("/v1/balance/derive", params={"customerId": customer}).json()["verifiedCount"] < count:
            assert time.monotonic() < deadline, "the deltas were not verified in time"
            time.sleep(0.2)


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise AssertionError(f"{argv[:3]} exited {done.returncode}: {done.stdout[-500:]} {done.stderr[-500:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return elapsed, report


def run(workdir: Path, *, bundles: int, repeats: int) -> list[Row]:
    node = start_node(workdir=workdir, interval=0.5)
    try:
        _record(node.base_url, node.token, "cust_verify", bundles)
        export = workdir / "verify-export.jsonl"
        with (
            httpx.stream(
                "GET",
                f"{node.base_url}/v1/balance/export",
                params={"customerId": "cust_verify"},
                headers={"Authorization": f"Bearer {node.token}"},
                timeout=600,
            ) as response,
            export.open("wb") as sink,
        ):
            for chunk in response.iter_bytes():
                sink.write(chunk)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}, "ETH_HASH_BACKEND": "pysha3"}
        common = ["derive", str(export), "--rpc", node.anvil.rpc_url, "--json", "--quiet"]
        python = [sys.executable, "-m", "pacspace_verify", *common]
        typescript = ["node", str(CLI_JS), *common]
        times: dict[str, list[float]] = {"python": [], "typescript": []}
        balances = set()
        for _ in range(repeats):
            for name, argv in (("typescript", typescript), ("python", python)):
                elapsed, report = _time(argv, env)
                times[name].append(elapsed)
                balances.add(report["balance"])
        assert len(balances) == 1, f"the verifiers derived different balances: {balances}"
    finally:
        node.stop()
    ts_rate = bundles / median(times["typescript"])
    py_rate = bundles / median(times["python"])
    return [
        Row(
            "8",
            f"TypeScript verifier (pacspace-verify-js) derive over {bundles:,} bundles, one process",
            ts_rate,
            "bundles/s",
            py_rate,
            "Python verifier bundles/s",
            note=f"same export and Anvil; both derived balance {balances.pop()}; "
            f"medians of {repeats}, process start-up included",
        )
    ]
