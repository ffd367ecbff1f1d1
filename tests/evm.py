"""The EVM implementations the chain tests run against: Anvil (node.dev.chain) and Hardhat Network 2.x.

Hardhat is the second implementation, there to catch what only Anvil does (how far ``finalized`` lags
behind the head, fee defaults, error wording). It comes from package-lock.json like Foundry.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from node.dev.chain import Anvil, port_open

REPO = Path(__file__).resolve().parents[1]
HARDHAT = REPO / "node_modules" / ".bin" / "hardhat"
HARDHAT_CONFIG = REPO / "tests" / "hardhat" / "hardhat.config.js"


def start_hardhat(port: int, log: Path) -> Anvil:
    """``hardhat node`` on 127.0.0.1:``port`` (the same handle as an Anvil: ``rpc_url``, ``stop()``)."""
    assert HARDHAT.exists(), f"{HARDHAT} is missing: scripts/bootstrap installs it (npm ci)"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "HARDHAT_TELEMETRY_DISABLED": "true"}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port), "--config", str(HARDHAT_CONFIG)],
            cwd=HARDHAT_CONFIG.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"hardhat node did not start on port {port}:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return Anvil(process, f"http://127.0.0.1:{port}")
