"""Shared fixtures: a real Anvil, a freshly deployed anchor contract, a real PostgreSQL, a real node.

Database backend: tests get SQLite unless they are marked ``@BOTH_BACKENDS`` (or a module sets
``pytestmark = BOTH_BACKENDS``), which runs them once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from node.app import create_app
from node.chain.client import AnchorClient, account_from_key, connect
from node.dev.chain import ARTIFACT, DEV_ANCHORER_KEY, Anvil, deploy_dev_contract, free_port, start_anvil
from node.dev.postgres import Postgres, start_postgres
from node.services import Services
from node.settings import Settings
from node.store.db import Store
from node.store.keys import create_api_key
from node.store.migrate import upgrade
from tests.evm import start_hardhat

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler import LoadScopeScheduling

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def artifact() -> Path:
    assert ARTIFACT.exists(), f"{ARTIFACT} is missing: scripts/test runs `forge build` first"
    return ARTIFACT


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    chain = start_anvil(port=free_port())
    yield chain
    chain.stop()


@pytest.fixture(scope="session")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """Hardhat Network 2.x: the second EVM implementation (tests/evm.py)."""
    chain = start_hardhat(free_port(), tmp_path_factory.mktemp("hardhat") / "hardhat.log")
    yield chain
    chain.stop()


@pytest.fixture
def evm() -> str:
    """Which EVM implementation ``deployment`` (and ``chain_rpc``) use: Anvil unless parametrized."""
    return "anvil"


# On both EVM implementations; with BOTH_BACKENDS-style database variants, use ON_BOTH_EVMS instead.
BOTH_EVMS = pytest.mark.parametrize("evm", ["anvil", "hardhat"])
# Anvil on both databases, and Hardhat on SQLite (the EVM is what differs there, not the database).
ON_BOTH_EVMS = pytest.mark.parametrize(
    ("db_backend", "evm"), [("sqlite", "anvil"), ("postgresql", "anvil"), ("sqlite", "hardhat")]
)


@pytest.fixture
def chain_rpc(request: pytest.FixtureRequest, evm: str) -> str:
    """The RPC URL of the test's EVM (the session's Anvil, or its Hardhat)."""
    chain: Anvil = request.getfixturevalue(evm)
    return chain.rpc_url


# Modules whose tests share one expensive module fixture run on one xdist worker; so do all tests on
# Hardhat (one Hardhat per worker takes seconds to start); every other test is scheduled on its own,
# as with `--dist load`.
ONE_WORKER_MODULES = ("tests/integration/test_scale_out.py", "tests/integration/test_verifier_package.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling:
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if "hardhat" in nodeid.split("::", 1)[-1]:
                return "hardhat"
            return module if module in ONE_WORKER_MODULES else nodeid

    return Scheduling(config, log)


TEMPLATE_DB = "pacspace_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster for this test process, with a migrated template database."""
    cluster = start_postgres(free_port())
    template = Store(cluster.create_database(TEMPLATE_DB))
    upgrade(template)
    template.close()
    yield cluster
    cluster.stop()


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


BOTH_BACKENDS = pytest.mark.parametrize("db_backend", ["sqlite", "postgresql"])


def new_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path, name: str = "node") -> str:
    """A URL to a new, empty-of-rows database at the current schema (PostgreSQL: a template copy)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    cluster: Postgres = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:16]}", template=TEMPLATE_DB)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> str:
    return new_database(request, db_backend, tmp_path)


@dataclass
class Deployment:
    rpc_url: str
    address: str

    def client(self, key: str = DEV_ANCHORER_KEY) -> AnchorClient:
        return AnchorClient(connect(self.rpc_url), self.address, account_from_key(key))


def deploy_fresh(rpc_url: str, artifact: Path) -> Deployment:
    return Deployment(rpc_url, deploy_dev_contract(rpc_url, artifact))


@pytest.fixture
def deployment(chain_rpc: str, artifact: Path) -> Deployment:
    """A new contract per test, so every test starts its log at index 0 (on Anvil unless ``evm`` says)."""
    return deploy_fresh(chain_rpc, artifact)


# The operator's allowance for webhooks to receivers on this machine (the default allows no loopback or
# private destination): tests that deliver to a local WebhookReceiver start their node with it.
LOCAL_RECEIVERS: dict[str, Any] = {"webhook_allow_private_hosts": "127.0.0.1"}
LOCAL_RECEIVERS_ENV = {"PACSPACE_WEBHOOK_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}


def node_settings(deployment: Deployment, db_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "rpc_url": deployment.rpc_url,
        "chain_id": 31337,
        "contract_address": deployment.address,
        "signer_key": DEV_ANCHORER_KEY,
        "port": port,
        "anchor_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class RunningNode:
    """A real uvicorn server on a loopback port, in a thread of the test process."""

    base_url: str
    token: str
    server: uvicorn.Server
    thread: threading.Thread
    db_url: str
    services: Services  # the app's one copy (its state.services)

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=30
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def create_key(db_url: str, scope: str = "admin", tenant: str = "default", customer_id: str | None = None) -> str:
    store = Store(db_url)
    upgrade(store)
    with store.writer() as session:
        _row, token = create_api_key(
            session=session, tenant=tenant, name="test", scopes=scope.split(","), customer_id=customer_id
        )
    store.close()
    return token


def start_node(deployment: Deployment, tmp_path: Path, db_url: str | None = None, **overrides: Any) -> RunningNode:
    db_url = db_url or f"sqlite:///{tmp_path / 'node.db'}"
    token = create_key(db_url)
    port = free_port()
    settings = node_settings(deployment, db_url, port, **overrides)
    app = create_app(settings)
    # As `pacspace-node serve` listens: forwarding headers believed only from configured proxies.
    server = uvicorn.Server(uvicorn.Config(app, **settings.uvicorn_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("node did not come up")
        time.sleep(0.01)
    services: Services = app.state.services
    return RunningNode(f"http://127.0.0.1:{port}", token, server, thread, db_url, services)


@pytest.fixture
def node(deployment: Deployment, tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    running = start_node(deployment, tmp_path, db_url)
    yield running
    running.stop()


def wait_for_status(client: httpx.Client, receipt_id: str, status: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, object] = client.get(f"/v1/receipts/{receipt_id}").json()
        if body.get("status") == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{receipt_id} still {body.get('status')} after {timeout}s")
        time.sleep(0.05)


def node_env(db_url: str, deployment: Deployment, **settings: str) -> dict[str, str]:
    """The environment of a ``pacspace-node`` subprocess over the database and deployment (no other
    PACSPACE_ variable of the test run leaks in); ``settings`` add PACSPACE_<NAME> variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")}
    env.update(
        {
            "PACSPACE_DATABASE_URL": db_url,
            "PACSPACE_RPC_URL": deployment.rpc_url,
            "PACSPACE_CHAIN_ID": "31337",
            "PACSPACE_CONTRACT_ADDRESS": deployment.address,
            "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
        }
    )
    env.update({f"PACSPACE_{name.upper()}": value for name, value in settings.items()})
    return env


def healthz_ok(base_url: str) -> bool:
    """True when ``GET /healthz`` answers 200 (False while nothing listens)."""
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def serve(
    env: dict[str, str], log: Path, ready: Callable[[], bool], *args: str, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """Start ``pacspace-node serve *args`` (output appended to ``log``) and poll ``ready`` until it holds;
    fails with the log's tail if the process exits first or ``timeout`` passes."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", *args], env=env, cwd=REPO, stdout=sink, stderr=sink
        )
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"pacspace-node serve exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"pacspace-node serve not ready after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return process


def run_audit(db_url: str, deployment: Deployment) -> tuple[int, dict[str, Any]]:
    """``pacspace-node audit --json`` over the database, as an operator runs it; (exit status, report)."""
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "audit", "--json"],
        env=node_env(db_url, deployment),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert DEV_ANCHORER_KEY.removeprefix("0x") not in result.stdout + result.stderr
    assert result.stdout, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report
