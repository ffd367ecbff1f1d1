"""docker-compose.yml is valid (checked with the compose CLI; no Docker engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import compose

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(compose.__file__).parent / "docker-compose"


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    return subprocess.run(
        [str(BINARY), "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_compose_file_is_valid_and_wires_anvil_deploy_and_node() -> None:
    result = _config({"PACSPACE_DEPLOYER_KEY": "0x01", "PACSPACE_SIGNER_KEY": "0x02"})
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert set(services) == {"anvil", "deploy", "node"}
    node = services["node"]
    assert node["environment"]["PACSPACE_RPC_URL"] == "http://anvil:8545"
    assert node["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in node and "healthcheck" in services["anvil"]


def test_secrets_are_required_not_defaulted() -> None:
    result = _config({"PACSPACE_DEPLOYER_KEY": "0x01"})
    assert result.returncode != 0
    assert "PACSPACE_SIGNER_KEY" in result.stderr
