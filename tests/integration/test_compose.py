"""docker-compose.yml is valid and wires the scaled-out topology (checked with the compose CLI;
no Docker engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import compose
import pytest

from node.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(compose.__file__).parent / "docker-compose"
SECRETS = {"POSTGRES_PASSWORD": "pw", "PACSPACE_DEPLOYER_KEY": "0x01", "PACSPACE_SIGNER_KEY": "0x02"}


def _config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PACSPACE_", "POSTGRES_"))}
    return subprocess.run(
        [str(BINARY), "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def _services(env: dict[str, str] = SECRETS) -> dict[str, Any]:
    result = _config(env)
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def test_the_node_runs_scaled_out_on_postgres_after_migrations_and_deployment() -> None:
    services = _services()
    assert set(services) == {"postgres", "anvil", "deploy", "migrate", "node"}
    node = services["node"]
    assert node["environment"]["PACSPACE_DATABASE_URL"] == "postgresql+psycopg://pacspace:pw@postgres:5432/pacspace"
    assert node["environment"]["PACSPACE_RPC_URL"] == "http://anvil:8545"
    assert node["deploy"]["replicas"] == 2
    assert node["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert node["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert node["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["pacspace-node", "db", "upgrade"]
    assert services["migrate"]["environment"] == node["environment"]  # migrates the database the node uses
    ports = node["ports"][0]
    assert (ports["published"], ports["target"], ports["host_ip"]) == ("8000-8009", 8000, "127.0.0.1")
    for name in ("postgres", "anvil", "node"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert services["postgres"]["image"].split(":")[1][0].isdigit(), "pin the PostgreSQL image version"


def test_the_node_environment_is_one_the_node_accepts() -> None:
    environment = _services()["node"]["environment"]
    settings = Settings(**{k.removeprefix("PACSPACE_").lower(): v for k, v in environment.items()})
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.host == "0.0.0.0"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_every_secret_is_required_not_defaulted(missing: str) -> None:
    result = _config({k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr
