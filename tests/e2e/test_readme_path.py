"""The README, run as written: every ```sh block of README.md, in order, against ./scripts/run.

A newcomer follows the README from the repository's root; this test does the same from a scratch
directory whose ``.venv`` is the repository's, so the files the walk-through writes (bundle.json,
receipt.json, …) land there and not in the checkout. It starts ``./scripts/run`` itself with a data
directory (``.pacspace/`` of the scratch directory) and free ports, and rewrites the README's
``127.0.0.1:8000`` and ``127.0.0.1:8545`` to them; nothing else of a block is changed. The blocks run
in one bash (``set -euo pipefail``), so each goes on from the variables and files of the ones before,
as a reader's terminal does. A block the test cannot run is marked in README.md, on the line before
it, ``<!-- not run by the README test: <why> -->``; an unmarked block that fails fails this test,
naming the block. Then the bundle is tampered with (the verifier names the check), Ctrl-C stops
everything, and a second ./scripts/run reuses the chain, contract, database and key.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from node.dev.chain import free_port, port_open
from tests.conftest import healthz_ok
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SKIP = re.compile(r"<!-- not run by the README test: (.+?) -->")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence in README.md
    text: str
    skipped: str | None  # the reason given in README.md, or None: the block runs


def shell_blocks(markdown: str) -> list[Block]:
    """Every ```sh block of the document, with the skip reason on the line before it (if any)."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() in ("```sh", "```bash", "```shell"):
            end = next(j for j in range(index + 1, len(lines)) if lines[j].strip() == "```")
            marker = SKIP.search(lines[index - 1]) if index else None
            blocks.append(Block(index + 1, "\n".join(lines[index + 1 : end]), marker.group(1) if marker else None))
            index = end
        index += 1
    return blocks


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


def _script(blocks: list[Block], port: int, chain_port: int) -> str:
    parts = ["set -euo pipefail"]
    for block in blocks:
        text = block.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
            "127.0.0.1:8545", f"127.0.0.1:{chain_port}"
        )
        parts += [f"echo '### README.md line {block.line}' >&2", text]
    return "\n".join(parts) + "\n"


def test_every_shell_block_is_run_or_says_why_not() -> None:
    blocks = shell_blocks(README.read_text())
    assert len(blocks) >= 10
    for block in blocks:
        if block.skipped is not None:
            assert len(block.skipped) > 20, f"README.md line {block.line}: say why the block is not run"
    skipped = [b.line for b in blocks if b.skipped]
    assert len(skipped) <= 3, f"most of the README must be run: {skipped} are not"


def test_readme_walkthrough(tmp_path: Path) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(REPO / ".venv")
    data_dir = work / ".pacspace"
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

        runnable = [b for b in shell_blocks(README.read_text()) if b.skipped is None]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_") and k != "DATABASE_URL"}
        ran = subprocess.run(
            ["bash", "-c", _script(runnable, port, chain_port)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        where = re.findall(r"### (README\.md line \d+)", ran.stderr)
        assert ran.returncode == 0, (
            f"the block at {where[-1] if where else '?'} failed ({ran.returncode}):\n"
            f"{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
        )
        assert len(where) == len(runnable)
        assert "✗" not in ran.stdout, ran.stdout

        # What the walk-through left behind is what it says.
        receipt = json.loads((work / "receipt.json").read_text())
        assert receipt["receiptId"].startswith("rcpt_") and receipt["status"] == "pending"
        assert json.loads((work / "bundle.json").read_text())["logIndex"] == 0
        assert (work / "checkpoint.token").read_text().startswith("0x02")
        assert json.loads((work / "evidence.json").read_text())["comparison"]["resolution"] == "needs_evidence"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as api:
            checkpoints = api.get("/v1/checkpoints", params={"customerId": "cust_12345"}).json()["checkpoints"]
            assert checkpoints[0]["countersigner"] is not None  # the eth-account example countersigned it
            keys = api.get("/v1/keys").json()["keys"]
            assert any(k["customerId"] == "cust_12345" for k in keys)  # `keys create --customer` reached the node

        bundle_path = work / "bundle.json"
        tampered = json.loads(bundle_path.read_text())
        tampered["typedData"]["message"]["delta"] = "-100"
        bundle_path.write_text(json.dumps(tampered))
        refused = subprocess.run(
            [REPO / ".venv" / "bin" / "pacspace-verify", bundle_path, "--rpc", f"http://127.0.0.1:{chain_port}"],
            cwd=work,
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
            f"http://127.0.0.1:{port}/v1/receipts/{receipt['receiptId']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert again.status_code == 200 and again.json()["status"] == "verified"
        assert restart_seconds < 60
    finally:
        _interrupt(process)
