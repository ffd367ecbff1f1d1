"""``pacspace-node``: dev, serve, deploy, keys, audit, db, bench."""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    from node.settings import Settings

    if settings_env:
        os.environ.update(settings_env)
    settings = Settings()
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
    from node.settings import Settings

    configure_logging(os.environ.get("PACSPACE_LOG_LEVEL", "INFO"))
    return create_app(Settings())


def cmd_dev(args: argparse.Namespace) -> int:
    from node.dev import chain as dev_chain
    from node.store.db import Store
    from node.store.files import private_dir, warn_if_open
    from node.store.keys import create_api_key
    from node.store.migrate import upgrade

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


def cmd_audit(args: argparse.Namespace) -> int:
    """Check the whole database against the chain; exit 1 on any finding."""
    import json

    from node.chain.client import AnchorClient
    from node.chain.providers import connect_configured
    from node.core.hashing import from_hex
    from node.core.protocol import protocol_for_contract
    from node.core.typed_data import Domain
    from node.ledger.audit import audit_database
    from node.settings import Settings
    from node.store.db import Store
    from node.store.migrate import ensure_current

    settings = Settings()
    chain = AnchorClient(connect_configured(settings), settings.contract_address)  # read-only: no key needed
    chain.check_identity(expected_chain_id=settings.chain_id)
    store = Store(settings.database_url)
    ensure_current(store)
    protocol = protocol_for_contract(chain.protocol_version())
    report = audit_database(
        store,
        chain,
        domain=Domain(settings.chain_id, from_hex(settings.contract_address, length=20), protocol),
        from_block=settings.contract_deployment_block,
        log_span=settings.log_query_span_blocks,
    )
    store.close()
    customer_findings = {k: v for k, v in report.by_customer.items() if v}
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "batches": report.batches,
                    "customers": report.customers,
                    "deltas": report.deltas,
                    "findings": [f.to_json() for f in report.findings],
                    "customerFindings": {k: [f.to_json() for f in v] for k, v in customer_findings.items()},
                }
            )
        )
    else:
        print(f"audited {report.batches} batches, {report.customers} customers, {report.deltas} deltas")
        for finding in report.findings:
            if finding.log_from is not None:
                where = f"log indexes {finding.log_from}..{finding.log_to}"
            else:
                where = f"batch at log index {finding.batch_start}"
            print(f"✗ {where}: {finding.reason}: {finding.detail}")
        for customer, findings in customer_findings.items():
            for finding in findings:
                where = f"index {finding.customer_index}" if finding.customer_index is not None else "balance"
                print(f"✗ {customer} {where} {finding.receipt_id or ''}: {finding.reason}: {finding.detail}")
        print("OK: the database agrees with itself and with the chain" if report.ok else "FINDINGS: see above")
    return 0 if report.ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    os.environ["PACSPACE_LOG_LEVEL"] = args.log_level  # the workers configure their logging from it
    _serve(workers=args.workers)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from node.api.admin import key_json
    from node.core.apikeys import parse_scopes
    from node.store.db import Store
    from node.store.keys import create_api_key, get_api_key, list_api_keys, revoke_api_key, rotate_api_key
    from node.store.migrate import ensure_current

    url = args.database_url or os.environ.get("PACSPACE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        print("error: pass --database-url or set PACSPACE_DATABASE_URL", file=sys.stderr)
        return 2
    store = Store(url)
    ensure_current(store)
    try:
        with store.writer() as session:
            if args.keys_command == "create":
                try:
                    scopes = parse_scopes(args.scope)
                except ValueError as exc:
                    print(f"error: --scope: {exc}", file=sys.stderr)
                    return 2
                if args.customer and scopes != ("read",):
                    print("error: a customer-scoped key (--customer) must have --scope read", file=sys.stderr)
                    return 2
                row, token = create_api_key(
                    session=session,
                    tenant=args.tenant,
                    name=args.name,
                    scopes=scopes,
                    prefix="sk_live_" if args.live else "sk_test_",
                    customer_id=args.customer,
                )
                who = f" for customer {row.customer_id}" if row.customer_id else ""
                print(f"created {row.id} in tenant {row.tenant} with scopes {row.scopes}{who}")
                print(f"API key (shown once): {token}")
                return 0
            if args.keys_command == "list":
                for row in list_api_keys(session=session, tenant=args.tenant):
                    view = key_json(row)
                    customer = f"customer={row.customer_id}" if row.customer_id else "-"
                    print(
                        f"{row.id}  {row.tenant}  {view['status']:8}  {row.scopes:16}  {customer}  "
                        f"created={view['createdAt']}  last_used={view['lastUsedAt'] or '-'}  {row.name}"
                    )
                return 0
            found = get_api_key(session=session, key_id=args.key_id)
            if found is None:
                print(f"error: no API key {args.key_id}", file=sys.stderr)
                return 1
            now = int(time.time())
            if args.keys_command == "revoke":
                revoke_api_key(session=session, row=found, at=now)
                print(f"revoked {found.id}")
                return 0
            new_row, token = rotate_api_key(session=session, row=found, at=now, grace_seconds=args.grace_seconds)
            print(f"rotated {found.id} -> {new_row.id}; the old key ends in {args.grace_seconds} s")
            print(f"API key (shown once): {token}")
            return 0
    finally:
        store.close()


def cmd_db(args: argparse.Namespace) -> int:
    from node.store.db import Store
    from node.store.migrate import current_revision, head_revision, new_revision, upgrade

    url = args.database_url or os.environ.get("PACSPACE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    url = url or "sqlite:///.pacspace/pacspace.db"
    store = Store(url)
    try:
        if args.db_command == "upgrade":
            before, after = upgrade(store)
            if before == after:
                print(f"{store.describe()}: already at schema revision {after}")
            else:
                print(f"{store.describe()}: upgraded from {before or 'an empty database'} to schema revision {after}")
            return 0
        if args.db_command == "revision":
            print(f"wrote {new_revision(store, args.message)}: read it before you commit it")
            return 0
        current, head = current_revision(store), head_revision()
        state = "up to date" if current == head else "needs `pacspace-node db upgrade`"
        print(f"{store.describe()}: schema revision {current or 'none'}; this node needs {head} ({state})")
        return 0 if current == head else 1
    finally:
        store.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pacspace-node", description="PacSpace node")
    parser.add_argument("--log-level", default=os.environ.get("PACSPACE_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="local Anvil + contract + SQLite + API, nothing to configure")
    dev.add_argument("--data-dir", default=".pacspace")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--chain-port", type=int, default=8545)
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

    audit = sub.add_parser("audit", help="check the whole database against the chain (PACSPACE_* settings)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=cmd_audit)

    _add_deploy_command(sub)

    bench = sub.add_parser("bench", help="the performance benchmark (bench/bench.py; --help there)", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    keys = sub.add_parser("keys", help="create, list, revoke and rotate API keys")
    keys.add_argument("--database-url")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (the tenant is created if new)")
    create.add_argument("--tenant", default="default")
    create.add_argument("--scope", required=True, help="comma-separated: admin, write, read")
    create.add_argument("--customer", help="customer-scoped read key: sees only this customerId")
    create.add_argument("--name", default="unnamed")
    create.add_argument("--live", action="store_true", help="sk_live_ prefix instead of sk_test_")
    listing = keys_sub.add_parser("list")
    listing.add_argument("--tenant")
    revoke = keys_sub.add_parser("revoke", help="revoke a key, effective at once")
    revoke.add_argument("key_id")
    rotate = keys_sub.add_parser("rotate", help="issue a new secret; the old key ends after --grace-seconds")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-seconds", type=int, default=0)
    keys.set_defaults(func=cmd_keys)

    db = sub.add_parser("db", help="database schema: upgrade (apply migrations), current (show the revision)")
    db.add_argument(
        "--database-url", help="default: PACSPACE_DATABASE_URL, DATABASE_URL, then sqlite:///.pacspace/pacspace.db"
    )
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply every pending migration (back the database up first)")
    db_sub.add_parser("current", help="print the schema revision; exit 1 if an upgrade is pending")
    revision = db_sub.add_parser(
        "revision", help="contributors: generate the next migration from the models (use a scratch database)"
    )
    revision.add_argument("-m", "--message", required=True)
    db.set_defaults(func=cmd_db)
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
    from node.store.db import SchemaOutdatedError, UnsupportedDatabase

    try:
        return int(args.func(args))
    except (SchemaOutdatedError, UnsupportedDatabase) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
