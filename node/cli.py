"""``pacspace-node``: dev, serve, deploy, keys, audit, db, bench, signer, anchorer."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from node.dev.bench import cmd_bench, run_bench
from node.observability.logs import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI


def _serve(settings_env: dict[str, str] | None = None, *, workers: int = 1) -> None:
    import uvicorn

    from node.app import create_app
    from node.native.loader import merkle_backend
    from node.settings import configured_database_url, load_settings, resolve_database_url

    if settings_env:
        os.environ.update(settings_env)
    if not configured_database_url():
        # The nearest .pacspace/pacspace.db, never a new one in whatever directory this is; set for the
        # worker processes of --workers too, which read the same variables.
        os.environ["PACSPACE_DATABASE_URL"] = resolve_database_url()
    settings = load_settings()
    if workers > 1:
        from node.store.db import Store
        from node.store.migrate import ensure_current

        # Once, before any worker starts: N processes creating an empty database's schema would race.
        store = Store(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
        try:
            ensure_current(store)
        finally:
            store.close()
        # uvicorn binds the port here and starts N processes that accept on it, each importing
        # worker_app: its own recorder, scheduler and pools, one database (the leader lock picks
        # the one anchorer).
        uvicorn.run("node.cli:worker_app", factory=True, workers=workers, **settings.uvicorn_options())
        return
    app = create_app(settings)
    merkle_backend()  # decides (and logs) the Merkle backend at start, not at the first batch
    uvicorn.run(app, **settings.uvicorn_options())


def worker_app() -> FastAPI:
    """The app of one worker process of ``serve --workers N`` (configured by the same PACSPACE_* variables)."""
    from node.app import create_app
    from node.settings import load_settings

    configure_logging(os.environ.get("PACSPACE_LOG_LEVEL", "INFO"))
    return create_app(load_settings())


def cmd_dev(args: argparse.Namespace) -> int:
    from node.dev import chain as dev_chain
    from node.store.db import Store
    from node.store.files import private_dir, warn_if_open
    from node.store.keys import create_api_key
    from node.store.migrate import upgrade

    # Before anything is started, printed or created: a taken port would otherwise surface after the banner.
    for flag, port in (("--port", args.port), ("--chain-port", args.chain_port)):
        if dev_chain.port_open("127.0.0.1", port):
            print(
                f"error: 127.0.0.1:{port} is already in use (another node or Anvil?); stop it or choose another {flag}",
                file=sys.stderr,
            )
            return 2
    data_dir = Path(args.data_dir).resolve()
    private_dir(data_dir)  # the database, the API key and the chain state: 0700
    anvil = dev_chain.start_anvil(
        port=args.chain_port, state_file=data_dir / "anvil-state.json", block_time=args.block_time
    )
    try:
        address, deployed = dev_chain.ensure_contract(rpc_url=anvil.rpc_url, data_dir=data_dir)
        if deployed:
            retired = dev_chain.retire_database(data_dir)
            if retired is not None:
                print(f"note: new contract deployed; the old database was moved to {retired}", flush=True)
        env = dev_chain.dev_environment(data_dir=data_dir, rpc_url=anvil.rpc_url, contract_address=address)
        env["PACSPACE_PORT"] = str(args.port)
        env.setdefault("PACSPACE_ANCHOR_INTERVAL_SECONDS", os.environ.get("PACSPACE_ANCHOR_INTERVAL_SECONDS", "1"))
        key_file = data_dir / "api-key"
        store = Store(env["PACSPACE_DATABASE_URL"])
        upgrade(store)  # a development database is migrated without asking
        if not key_file.exists():
            with store.writer() as session:
                _row, token = create_api_key(
                    session=session, tenant="default", name="first key (dev)", scopes=("admin",)
                )
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(token + "\n")
        else:
            warn_if_open(key_file)
        store.close()
        print(dev_banner(args.port, anvil.rpc_url, address, data_dir, key_file.read_text().strip()), flush=True)
        _serve(env)
    finally:
        anvil.stop()
    return 0


def dev_banner(port: int, rpc_url: str, contract: str, data_dir: Path, token: str) -> str:
    """What ``pacspace-node dev`` prints. The admin key is masked (the banner lands in terminals' scrollback,
    CI logs and screenshots): the whole key is in the file it names, readable only by its owner."""
    from node.dev.chain import DEV_CHAIN_ID

    masked = token[:12] + "…"  # "sk_test_" and 4 characters of the key id: never any of the secret
    return (
        "\nPacSpace node (development)\n"
        f"  API       http://127.0.0.1:{port}   docs: http://127.0.0.1:{port}/docs\n"
        f"  chain     {rpc_url}   (Anvil, chain id {DEV_CHAIN_ID})\n"
        f"  contract  {contract}\n"
        f"  database  {data_dir / 'pacspace.db'}\n"
        f"  API key   {masked}   (admin; the whole key: {data_dir / 'api-key'}, readable only by you)\n"
        "  Ctrl-C stops the node and Anvil.\n"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    os.environ["PACSPACE_LOG_LEVEL"] = args.log_level  # the workers configure their logging from it
    _serve(workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from node.commands import audit, db, export, keys

    parser = argparse.ArgumentParser(prog="pacspace-node", description="PacSpace node")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("PACSPACE_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR; logs are JSON lines on stderr (default: PACSPACE_LOG_LEVEL or INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="local Anvil + contract + SQLite + API, nothing to configure")
    dev.add_argument(
        "--data-dir",
        default=".pacspace",
        help="where the database, Anvil's state, the contract address and the first API key live "
        "(default: .pacspace in the current directory)",
    )
    dev.add_argument("--port", type=int, default=8000, help="the API's port on 127.0.0.1 (default 8000)")
    dev.add_argument("--chain-port", type=int, default=8545, help="Anvil's JSON-RPC port on 127.0.0.1 (default 8545)")
    dev.add_argument("--block-time", type=float, default=None, help="seconds per block (default: automine)")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="serve the API and anchor, configured by PACSPACE_* variables")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes sharing the port (default 1); on SQLite they share the file and its write lock",
    )
    serve.set_defaults(func=cmd_serve)

    audit.add_command(sub)
    export.add_command(sub)
    _add_deploy_command(sub)

    bench = sub.add_parser("bench", help="the performance benchmark (bench/bench.py; --help there)", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    keys.add_command(sub)
    db.add_command(sub)
    _add_key_rotation(sub)
    return parser


def _add_deploy_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from node.dev.deploy import add_deploy_command  # deploy and explorer verification files

    add_deploy_command(sub)


def _add_key_rotation(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from node.keys.signers import add_commands

    add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # every further argument, --help included, is the benchmark's own
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    from node.core.errors import PacSpaceError
    from node.settings import SettingsError
    from node.store.db import SchemaOutdatedError, UnsupportedDatabase

    try:
        return int(args.func(args))
    except (SchemaOutdatedError, UnsupportedDatabase, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PacSpaceError as exc:  # a refusal the command explains (an unknown customer, a chain mismatch)
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
