"""The TypeScript SDK (clients/typescript/) against a real node: ``./scripts/run`` on free ports, as a user runs it.

One dev node for the module: the ``node --test`` live suite (clients/typescript/test/live/: recording,
retries through a real proxy, bulk, export, compare, checkpoints countersigned with viem and ethers,
webhooks, CloudEvents from the npm ``cloudevents`` SDK and OpenMeter's JS client) runs against it, and the
README's quickstart (the seed example, a derive and a proof verified by the TypeScript verifier) must print
the balance ``GET /v1/balance/derive`` gives.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from node.dev.chain import free_port
from tests.conftest import healthz_ok
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "clients" / "typescript"


@dataclass(frozen=True)
class DevNode:
    base_url: str
    rpc_url: str
    api_key: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
        return {
            **env,
            "PACSPACE_BASE_URL": self.base_url,
            "PACSPACE_RPC_URL": self.rpc_url,
            "PACSPACE_API_KEY": self.api_key,
            **extra,
        }


@pytest.fixture(scope="module")
def dev_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevNode]:
    data_dir = tmp_path_factory.mktemp("sdk") / "pacspace"
    port, chain_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    log = (data_dir.parent / "run.log").open("w+")
    process = subprocess.Popen(
        ["scripts/run", "--data-dir", str(data_dir), "--port", str(port), "--chain-port", str(chain_port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthz_ok(base) or process.poll() is not None, "the dev node never answered", 120)
        log.seek(0)
        output = log.read()
        assert process.poll() is None, output
        assert re.search(r"API key\s+sk_test_\S+…", output), output  # the banner shows only the key's start
        key = (data_dir / "api-key").read_text().strip()  # the whole key, as the README reads it
        yield DevNode(base, f"http://127.0.0.1:{chain_port}", key)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        log.close()


def test_node_test_runner_live_suite(dev_node: DevNode) -> None:
    started = time.monotonic()
    run = subprocess.run(
        ["node", "--test", "--test-concurrency=1", "test/live/"],
        cwd=SDK,
        env=dev_node.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = re.search(r"^# pass (\d+)\n# fail (\d+)", run.stdout, re.MULTILINE)
    assert run.returncode == 0 and summary and summary.group(2) == "0", run.stdout[-6000:] + run.stderr[-3000:]
    assert int(summary.group(1)) >= 16, run.stdout[-2000:]
    assert time.monotonic() - started < 240


def test_quickstart_prints_the_balance_derive_gives(dev_node: DevNode) -> None:
    customer = "cust_quickstart"
    run = subprocess.run(
        ["node", "examples/quickstart.mjs"],
        cwd=SDK,
        env=dev_node.env(PACSPACE_CUSTOMER=customer),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "proof verified: true" in run.stdout and "✗" not in run.stdout, run.stdout
    printed = re.search(r"^balance: (-?\d+)$", run.stdout, re.MULTILINE)
    assert printed, run.stdout
    derived = httpx.get(
        f"{dev_node.base_url}/v1/balance/derive",
        params={"customerId": customer},
        headers={"Authorization": f"Bearer {dev_node.api_key}"},
    )
    assert derived.status_code == 200, derived.text
    assert int(printed.group(1)) == derived.json()["balance"] == -1000
