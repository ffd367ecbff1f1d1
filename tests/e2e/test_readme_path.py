"""The README path on a real process tree: ./scripts/run, the curl walk-through, the verifier, Ctrl-C.

Runs scripts/run exactly as a user does (its bootstrap finds everything installed by the
test command and returns quickly), in a temporary data directory on free ports.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from node.dev.chain import free_port, port_open
from tests.conftest import healthz_ok
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]


def _start(data_dir: Path, port: int, chain_port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    process = subprocess.Popen(
        ["scripts/run", "--data-dir", str(data_dir), "--port", str(port), "--chain-port", str(chain_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while not any("Ctrl-C stops" in line for line in lines):
        line = _readline(process.stdout, deadline)
        if line == "":
            raise AssertionError("scripts/run exited early:\n" + "".join(lines))
        lines.append(line)
    base = f"http://127.0.0.1:{port}"
    left = max(deadline - time.monotonic(), 1.0)
    wait_until(lambda: healthz_ok(base), "/healthz never answered 200:\n" + "".join(lines), left)
    return process, lines


def _readline(stream: IO[str], deadline: float) -> str:
    assert time.monotonic() < deadline, "timed out waiting for scripts/run"
    return stream.readline()


def _interrupt(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    process.wait(timeout=30)


def test_readme_walkthrough(tmp_path: Path) -> None:
    data_dir = tmp_path / "pacspace"
    port, chain_port = free_port(), free_port()
    process, lines = _start(data_dir, port, chain_port)
    try:
        output = "".join(lines)
        token = (data_dir / "api-key").read_text().strip()  # KEY=$(cat .pacspace/api-key), as the README says
        shown = re.search(r"API key\s+(sk_test_\S+)…", output)
        assert shown and token.startswith(shown.group(1)), output
        assert token not in output and token.split("_")[-1] not in output, "the banner printed the admin key"
        assert f"the whole key: {data_dir / 'api-key'}, readable only by you" in output
        contract = re.search(r"contract\s+(0x[0-9a-f]{40})", output)
        assert contract, output
        modes = {
            p.name: p.stat().st_mode & 0o777 for p in (data_dir, *data_dir.glob("pacspace.db*"), data_dir / "api-key")
        }
        assert modes[data_dir.name] == 0o700 and modes["api-key"] == 0o600, modes
        assert {modes[n] for n in ("pacspace.db", "pacspace.db-wal", "pacspace.db-shm")} == {0o600}, modes

        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        created = client.post(
            "/v1/balance/delta",
            json={
                "customerId": "cust_12345",
                "delta": -1000,
                "reason": "Monthly usage charge",
                "referenceId": "req_abc123",
            },
        )
        assert created.status_code == 201, created.text
        receipt_id = created.json()["receiptId"]
        deadline = time.monotonic() + 30
        while (receipt := client.get(f"/v1/receipts/{receipt_id}").json())["status"] != "verified":
            assert time.monotonic() < deadline, receipt
            time.sleep(0.1)
        assert receipt["txHash"] and receipt["blockNumber"] and receipt["confirmations"] >= 1
        bundle_path = tmp_path / "bundle.json"
        bundle_path.write_text(client.get(f"/v1/receipts/{receipt_id}/proof").text)

        verify = subprocess.run(
            [
                str(Path(sys.executable).parent / "pacspace-verify"),  # as the README runs it
                str(bundle_path),
                "--rpc",
                f"http://127.0.0.1:{chain_port}",
                "--contract",
                contract.group(1),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "✗" not in verify.stdout

        tampered = json.loads(bundle_path.read_text())
        tampered["typedData"]["message"]["delta"] = "-100"
        bundle_path.write_text(json.dumps(tampered))
        refused = subprocess.run(
            [Path(sys.executable).parent / "pacspace-verify", bundle_path, "--rpc", f"http://127.0.0.1:{chain_port}"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert refused.returncode == 1 and "✗ fingerprint" in refused.stdout
    finally:
        _interrupt(process)
    assert not port_open("127.0.0.1", port) and not port_open("127.0.0.1", chain_port), "Ctrl-C left something running"

    # Running again reuses the chain state, the contract, the database and the key, and is quick.
    started = time.monotonic()
    process, lines = _start(data_dir, port, chain_port)
    restart_seconds = time.monotonic() - started
    try:
        output = "".join(lines)
        assert contract.group(1) in output and shown.group(1) in output and token not in output
        assert (data_dir / "api-key").read_text().strip() == token
        assert "new contract deployed" not in output
        again = httpx.get(
            f"http://127.0.0.1:{port}/v1/receipts/{receipt_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert again.status_code == 200 and again.json()["status"] == "verified"
        assert restart_seconds < 60
    finally:
        _interrupt(process)
