"""The scaled-out topology of docker-compose.yml, without Docker: processes on loopback.

PostgreSQL (a throwaway cluster), Anvil, the anchor contract, then N ``pacspace-node serve``
processes against the one database, each on its own port; exactly one of them holds the
anchoring leader lock at a time. ``scripts/cluster`` runs it from the command line; the
tests drive it through :class:`Cluster` (kill a process, start it again, find the leader).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from web3 import Web3

from node.dev.chain import (
    DEV_ANCHORER_KEY,
    DEV_CHAIN_ID,
    REPO_ROOT,
    Anvil,
    deploy_dev_contract,
    free_port,
    port_open,
    start_anvil,
)
from node.dev.postgres import Postgres, start_postgres
from node.store.db import Store
from node.store.keys import create_api_key
from node.store.migrate import upgrade


@dataclass
class ApiProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    """Started by :meth:`start`; every part is stopped by :meth:`stop`."""

    work_dir: Path
    api_count: int = 2
    anchor_interval: float = 1.0
    block_time: float | None = None
    durable: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    postgres: Postgres | None = None
    anvil: Anvil | None = None
    contract: str = ""
    database_url: str = ""
    admin_key: str = ""
    apis: list[ApiProcess] = field(default_factory=list)

    def start(self) -> Cluster:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.postgres = start_postgres(free_port(), durable=self.durable)
            self.database_url = self.postgres.create_database("pacspace")
            self.anvil = start_anvil(port=free_port(), block_time=self.block_time)
            self.contract = deploy_dev_contract(self.anvil.rpc_url)
            store = Store(self.database_url)
            upgrade(store)  # what `pacspace-node db upgrade` does before a deployment
            with store.writer() as session:
                _row, self.admin_key = create_api_key(
                    session=session, tenant="default", name="cluster admin", scopes=("admin",)
                )
            store.close()
            for index in range(self.api_count):
                self.apis.append(self._spawn(index, free_port()))
            for index in range(self.api_count):
                self.wait_healthy(index)
        except BaseException:
            self.stop()
            raise
        return self

    def environment(self, port: int) -> dict[str, str]:
        assert self.anvil is not None
        return {
            **os.environ,
            "PACSPACE_DATABASE_URL": self.database_url,
            "PACSPACE_RPC_URL": self.anvil.rpc_url,
            "PACSPACE_CHAIN_ID": str(DEV_CHAIN_ID),
            "PACSPACE_CONTRACT_ADDRESS": self.contract,
            "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
            "PACSPACE_PORT": str(port),
            "PACSPACE_ANCHOR_INTERVAL_SECONDS": str(self.anchor_interval),
            "PACSPACE_LOG_LEVEL": os.environ.get("PACSPACE_LOG_LEVEL", "WARNING"),
            **self.extra_env,
        }

    def _spawn(self, index: int, port: int) -> ApiProcess:
        log_path = self.work_dir / f"api-{index}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve"],
                cwd=REPO_ROOT,
                env=self.environment(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return ApiProcess(port, process, log_path)

    def wait_healthy(self, index: int, timeout: float = 60) -> dict[str, object]:
        api = self.apis[index]
        deadline = time.monotonic() + timeout
        while True:
            if not api.alive():
                raise RuntimeError(f"API process {index} exited; its log:\n{api.log_path.read_text()[-4000:]}")
            if port_open("127.0.0.1", api.port):
                try:
                    body: dict[str, object] = httpx.get(f"{api.url}/healthz", timeout=5).json()
                    return body
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"API process {index} not healthy after {timeout} s")
            time.sleep(0.05)

    def health(self, index: int) -> dict[str, object] | None:
        try:
            body: dict[str, object] = httpx.get(f"{self.apis[index].url}/healthz", timeout=5).json()
            return body
        except httpx.HTTPError:
            return None

    def leaders(self) -> list[int]:
        return [i for i, api in enumerate(self.apis) if api.alive() and (self.health(i) or {}).get("anchoringLeader")]

    def reverted_anchor_transactions(self) -> list[str]:
        """Hashes of transactions to the contract that reverted (a leader sent one the contract refused)."""
        assert self.anvil is not None
        w3 = Web3(Web3.HTTPProvider(self.anvil.rpc_url))
        reverted = []
        for number in range(w3.eth.block_number + 1):
            for tx_hash in w3.eth.get_block(number)["transactions"]:
                receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                to = receipt["to"]
                if to is not None and to.lower() == self.contract and receipt["status"] != 1:
                    reverted.append(receipt["transactionHash"].hex())
        return reverted

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown hook runs, exactly as a crash."""
        api = self.apis[index]
        if api.alive():
            api.process.send_signal(signal.SIGKILL)
            api.process.wait()

    def restart(self, index: int) -> None:
        self.kill(index)
        self.apis[index] = self._spawn(index, self.apis[index].port)
        self.wait_healthy(index)

    def stop(self) -> None:
        for api in self.apis:
            if api.alive():
                api.process.send_signal(signal.SIGINT)
        for api in self.apis:
            try:
                api.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                api.process.kill()
                api.process.wait()
        if self.anvil is not None:
            self.anvil.stop()
        if self.postgres is not None:
            self.postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="PostgreSQL + Anvil + N API processes on loopback: docker-compose.yml's topology without Docker",
    )
    parser.add_argument("--api", type=int, default=2, help="API processes (default 2)")
    parser.add_argument("--anchor-interval", type=float, default=1.0)
    parser.add_argument("--block-time", type=float, default=None, help="seconds per block (default: automine)")
    parser.add_argument("--work-dir", default=".pacspace/cluster", help="logs of the API processes")
    args = parser.parse_args(argv)
    cluster = Cluster(
        Path(args.work_dir).resolve(),
        api_count=args.api,
        anchor_interval=args.anchor_interval,
        block_time=args.block_time,
    )
    cluster.start()
    try:
        assert cluster.postgres is not None and cluster.anvil is not None
        print("\nPacSpace node cluster (no Docker)")
        print(f"  PostgreSQL  {cluster.database_url}")
        print(f"  chain       {cluster.anvil.rpc_url}   contract {cluster.contract}")
        for index, api in enumerate(cluster.apis):
            role = "anchoring leader" if index in cluster.leaders() else "standby"
            print(f"  API {index}       {api.url}   ({role}; log {api.log_path})")
        print(f"  API key     {cluster.admin_key}")
        print("  Ctrl-C stops everything.\n", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
