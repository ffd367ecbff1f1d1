"""`pacspace-node` as a newcomer meets it: it finds the node's database from anywhere in the project and
never makes a new empty one, names the PACSPACE_* variable it lacks instead of printing a traceback,
audits with no key, checks its ports before it prints a banner or makes a key, and prints no log noise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import Deployment, RunningNode, node_env, wait_for_status

PLAIN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_") and k != "DATABASE_URL"}


def pacspace_node(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=cwd,
        env=env or PLAIN_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keys_find_the_project_database_from_a_subdirectory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "deep" / "er").mkdir(parents=True)
    made = pacspace_node("db", "upgrade", cwd=project)
    assert made.returncode == 0, made.stderr
    assert (project / ".pacspace" / "pacspace.db").is_file()
    assert "setup plugin" not in made.stdout + made.stderr  # Alembic's import chatter stays out

    created = pacspace_node("keys", "create", "--scope", "admin", "--name", "from below", cwd=project / "deep" / "er")
    assert created.returncode == 0, created.stderr
    assert str(project / ".pacspace" / "pacspace.db") in created.stdout
    assert not (project / "deep" / "er" / ".pacspace").exists()
    listed = pacspace_node("keys", "list", cwd=project)
    assert "from below" in listed.stdout


def test_no_database_anywhere_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    lost = pacspace_node("keys", "list", cwd=tmp_path)
    assert lost.returncode == 2
    assert "PACSPACE_DATABASE_URL" in lost.stderr and ".pacspace/pacspace.db" in lost.stderr
    assert "Traceback" not in lost.stderr
    assert list(tmp_path.iterdir()) == []

    missing = tmp_path / "typo.db"
    named = pacspace_node("keys", "--database-url", f"sqlite:///{missing}", "create", "--scope", "read", cwd=tmp_path)
    assert named.returncode == 2 and f"no database at {missing}" in named.stderr
    assert not missing.exists()


def test_serve_without_settings_names_the_variables(tmp_path: Path) -> None:
    (tmp_path / ".pacspace").mkdir()
    pacspace_node("db", "upgrade", cwd=tmp_path)
    refused = pacspace_node("serve", cwd=tmp_path)
    assert refused.returncode == 2
    assert "PACSPACE_CHAIN_ID is not set" in refused.stderr
    assert "PACSPACE_CONTRACT_ADDRESS is not set" in refused.stderr
    assert "Traceback" not in refused.stderr and "pydantic" not in refused.stderr

    bad = pacspace_node("serve", cwd=tmp_path, env={**PLAIN_ENV, "PACSPACE_CHAIN_ID": "mainnet"})
    assert bad.returncode == 2 and "PACSPACE_CHAIN_ID='mainnet' is not valid" in bad.stderr

    chain = {"PACSPACE_CHAIN_ID": "31337", "PACSPACE_CONTRACT_ADDRESS": "0x" + "11" * 20}
    keyless = pacspace_node("serve", cwd=tmp_path, env={**PLAIN_ENV, **chain})
    assert keyless.returncode == 2 and "set PACSPACE_RECEIPT_SIGNER_KEY and PACSPACE_ANCHOR_KEY" in keyless.stderr
    assert "Traceback" not in keyless.stderr


def test_audit_needs_no_key(tmp_path: Path, deployment: Deployment) -> None:
    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    assert pacspace_node("db", "--database-url", db_url, "upgrade", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in node_env(db_url, deployment).items() if "KEY" not in k}
    audited = pacspace_node("audit", cwd=tmp_path, env=env)
    assert audited.returncode == 0, audited.stderr
    assert "OK: the database agrees" in audited.stdout
    assert audited.stderr.strip() == ""  # no progress line on a pipe, no log noise


def test_dev_checks_its_ports_before_it_prints_or_creates_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "dev"
        refused = pacspace_node("dev", "--data-dir", str(data_dir), "--port", str(port), cwd=tmp_path)
    assert refused.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in refused.stderr and "--port" in refused.stderr
    assert refused.stdout == ""  # no banner, no key
    assert not data_dir.exists()


def test_audit_draws_progress_on_a_terminal_and_not_on_a_pipe(tmp_path: Path, deployment: Deployment) -> None:
    import pty

    db_url = f"sqlite:///{tmp_path / 'node.db'}"
    assert pacspace_node("db", "--database-url", db_url, "upgrade", cwd=tmp_path).returncode == 0
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "audit"],
            cwd=tmp_path,
            env=node_env(db_url, deployment),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
        )
        stdout, _ = process.communicate(timeout=120)
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert process.returncode == 0, stdout
    assert b"customers: 0 of 0" in drawn or b"batches: 0 of 0" in drawn, drawn
    assert "batches:" not in stdout  # the results stay clean for a pipe


def test_export_writes_what_the_api_exports(tmp_path: Path, node: RunningNode, deployment: Deployment) -> None:
    with node.client() as api:
        for n in range(3):
            made = api.post(
                "/v1/balance/delta",
                json={"customerId": "cust_cli", "delta": n + 1, "reason": "usage", "referenceId": f"cli-{n}"},
            ).json()
        wait_for_status(api, made["receiptId"], "verified")
        expected = api.get("/v1/balance/export", params={"customerId": "cust_cli"}).content
    env = node_env(node.db_url, deployment)
    out = tmp_path / "cust_cli.jsonl"
    exported = pacspace_node("export", "cust_cli", "--out", str(out), cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == expected and len(expected.splitlines()) == 3
    assert exported.stderr.strip() == "exported 3 bundles of cust_cli"  # no progress drawn on a pipe
    piped = pacspace_node("export", "cust_cli", cwd=tmp_path, env=env)
    assert piped.stdout.encode() == expected

    unknown = pacspace_node("export", "nobody", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "no deltas recorded for customer 'nobody'" in unknown.stderr
