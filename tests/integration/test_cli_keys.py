"""`pacspace-node keys` against a real SQLite file: create (incl. customer keys), list, rotate, revoke."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from node.api.admin import key_json
from node.store.db import Store
from node.store.keys import get_api_key
from tests.conftest import REPO


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "keys", "--database-url", db_url, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_keys_commands(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'keys.db'}"
    created = subprocess.run([sys.executable, "-m", "node.cli", "db", "--database-url", db_url, "upgrade"], cwd=REPO)
    assert created.returncode == 0
    made = _cli(db_url, "create", "--tenant", "acme", "--scope", "read", "--customer", "cust_9", "--name", "for cust 9")
    assert made.returncode == 0, made.stderr
    key_id = re.search(r"created ([0-9a-f]{16}) in tenant acme", made.stdout).group(1)  # type: ignore[union-attr]
    assert "for customer cust_9" in made.stdout
    token = made.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    assert token.startswith(f"sk_test_{key_id}_")

    refused = _cli(db_url, "create", "--scope", "write", "--customer", "cust_9")
    assert refused.returncode == 2 and "must have --scope read" in refused.stderr
    assert _cli(db_url, "create", "--scope", "root").returncode == 2

    listed = _cli(db_url, "list", "--tenant", "acme")
    assert key_id in listed.stdout and "customer=cust_9" in listed.stdout and token not in listed.stdout

    rotated = _cli(db_url, "rotate", key_id, "--grace-seconds", "60")
    assert rotated.returncode == 0 and "ends in 60 s" in rotated.stdout
    assert _cli(db_url, "revoke", key_id).returncode == 0
    assert _cli(db_url, "revoke", "0000000000000000").returncode == 1

    store = Store(db_url)
    with store.session() as session:
        row = get_api_key(session=session, key_id=key_id)
        assert row is not None and key_json(row)["status"] == "revoked" and row.customer_id == "cust_9"
        secret = token.removeprefix(f"sk_test_{key_id}_")
        # The documented hash (node/core/apikeys.py): SHA-256 of the row's 16-byte salt then the secret.
        assert len(secret) == 43 and len(row.salt) == 16
        assert row.secret_hash == hashlib.sha256(row.salt + secret.encode()).digest()
    store.close()
    # Neither the token nor its secret is anywhere in the database (its file or a journal beside it).
    files = [path for path in tmp_path.iterdir() if path.name.startswith("keys.db")]
    assert tmp_path / "keys.db" in files
    for path in files:
        content = path.read_bytes()
        assert secret.encode() not in content and token.encode() not in content, path.name
