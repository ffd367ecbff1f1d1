"""A throwaway PostgreSQL cluster on loopback, for the tests and ``scripts/cluster``.

Uses the server binaries of the machine's PostgreSQL package (Debian: ``postgresql``;
``scripts/system-packages`` installs it). ``initdb`` refuses to run as root, so as root the
cluster belongs to the ``postgres`` user. Nothing here is used by a production node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "pacspace"


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (or ``$PG_BIN``) holding initdb and postgres."""
    candidates = [Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise FileNotFoundError(
        "PostgreSQL server binaries not found (looked in $PG_BIN and /usr/lib/postgresql/*/bin): "
        "run scripts/system-packages, or apt-get install postgresql"
    )


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Postgres:
    root: Path
    port: int
    bin_dir: Path
    options: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)
        return self.url(name)

    def stop_server(self) -> None:
        """Stop the server immediately (as a crash would), keeping its data directory."""
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603  (our own argv, no shell)
                _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                check=False,
            )

    def start_server(self) -> None:
        pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "server.log")]
        subprocess.run(  # noqa: S603  (our own argv, no shell)
            _as_owner([*pg_ctl, "-o", " ".join(self.options), "-w", "-t", "30", "start"]),
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(port: int, *, durable: bool = False, max_connections: int = 200) -> Postgres:
    """initdb a new cluster in a fresh temporary directory and start it on 127.0.0.1:``port``.

    ``durable=False`` turns fsync off: fine for tests that never survive a power cut, and
    several times faster. Benchmarks pass ``durable=True``.
    """
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="pacspace-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    options = [
        "-c listen_addresses=127.0.0.1",
        f"-p {port}",
        f"-k {root}",
        f"-c max_connections={max_connections}",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    cluster = Postgres(root=root, port=port, bin_dir=bin_dir, options=options)
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", SUPERUSER, "--auth=trust"]
        subprocess.run(  # noqa: S603  (our own argv, no shell)
            _as_owner([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        cluster.start_server()
    except (subprocess.CalledProcessError, psycopg.OperationalError) as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        cluster.stop()
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise RuntimeError(f"PostgreSQL did not start: {stderr}\n{log}") from exc
    return cluster
