"""``pacspace-node``: dev, serve, deploy, keys."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from node.logs import configure_logging


def _serve(settings_env: dict[str, str] | None = None) -> None:
    import uvicorn

    from node.api.app import create_app
    from node.settings import Settings

    if settings_env:
        os.environ.update(settings_env)
    settings = Settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def cmd_dev(args: argparse.Namespace) -> int:
    from node import devchain
    from node.store.db import Store
    from node.store.keys import create_api_key

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    anvil = devchain.start_anvil(
        port=args.chain_port, state_file=data_dir / "anvil-state.json", block_time=args.block_time
    )
    try:
        address, deployed = devchain.ensure_contract(rpc_url=anvil.rpc_url, data_dir=data_dir)
        if deployed:
            retired = devchain.retire_database(data_dir)
            if retired is not None:
                print(f"note: new contract deployed; the old database was moved to {retired}", flush=True)
        env = devchain.dev_environment(data_dir=data_dir, rpc_url=anvil.rpc_url, contract_address=address)
        env["PACSPACE_PORT"] = str(args.port)
        env.setdefault("PACSPACE_ANCHOR_INTERVAL_SECONDS", os.environ.get("PACSPACE_ANCHOR_INTERVAL_SECONDS", "1"))
        key_file = data_dir / "api-key"
        if not key_file.exists():
            store = Store(env["PACSPACE_DATABASE_URL"])
            store.create_schema()
            with store.session() as session:
                _row, token = create_api_key(
                    session=session, tenant="default", name="first key (dev)", scopes=("admin",)
                )
            store.close()
            key_file.touch(mode=0o600)
            key_file.write_text(token + "\n")
        token = key_file.read_text().strip()
        print(
            "\nPacSpace node (development)\n"
            f"  API       http://127.0.0.1:{args.port}   docs: http://127.0.0.1:{args.port}/docs\n"
            f"  chain     {anvil.rpc_url}   (Anvil, chain id {devchain.DEV_CHAIN_ID})\n"
            f"  contract  {address}\n"
            f"  database  {data_dir / 'pacspace.db'}\n"
            f"  API key   {token}\n"
            f"            (stored in {key_file}, readable only by you)\n"
            "  Ctrl-C stops the node and Anvil.\n",
            flush=True,
        )
        _serve(env)
    finally:
        anvil.stop()
    return 0


def cmd_serve(_args: argparse.Namespace) -> int:
    _serve()
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from node.chain.client import account_from_key, connect, deploy_anchor
    from node.devchain import ARTIFACT

    key = os.environ.get("PACSPACE_DEPLOYER_KEY")
    if not key:
        print("error: set PACSPACE_DEPLOYER_KEY to the deployer's private key", file=sys.stderr)
        return 2
    deployer = account_from_key(key)
    address = deploy_anchor(
        connect(args.rpc_url),
        deployer=deployer,
        owner=args.owner or deployer.address,
        anchorer=args.anchorer,
        artifact=Path(args.artifact) if args.artifact else ARTIFACT,
    )
    print(address.lower())
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from node.core.apikeys import parse_scopes
    from node.store.db import Store
    from node.store.keys import create_api_key, list_api_keys

    url = args.database_url or os.environ.get("PACSPACE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        print("error: pass --database-url or set PACSPACE_DATABASE_URL", file=sys.stderr)
        return 2
    store = Store(url)
    store.create_schema()
    with store.session() as session:
        if args.keys_command == "create":
            try:
                scopes = parse_scopes(args.scope)
            except ValueError as exc:
                print(f"error: --scope: {exc}", file=sys.stderr)
                return 2
            row, token = create_api_key(
                session=session,
                tenant=args.tenant,
                name=args.name,
                scopes=scopes,
                prefix="sk_live_" if args.live else "sk_test_",
            )
            print(f"created {row.id} for tenant {row.tenant} with scopes {row.scopes}")
            print(f"API key (shown once): {token}")
        else:
            for row in list_api_keys(session=session, tenant=args.tenant):
                state = "revoked" if row.revoked_at else "active"
                print(f"{row.id}  {row.prefix}…  {row.tenant}  {row.scopes}  {row.name}  {state}")
    store.close()
    return 0


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
    serve.set_defaults(func=cmd_serve)

    deploy = sub.add_parser("deploy", help="deploy the anchor contract (deployer key in PACSPACE_DEPLOYER_KEY)")
    deploy.add_argument("--rpc-url", required=True)
    deploy.add_argument("--anchorer", required=True, help="address that anchors and signs receipts")
    deploy.add_argument("--owner", help="contract owner (default: the deployer)")
    deploy.add_argument("--artifact", help="forge artifact (default: out/PacSpaceAnchor.sol/PacSpaceAnchor.json)")
    deploy.set_defaults(func=cmd_deploy)

    keys = sub.add_parser("keys", help="create and list API keys")
    keys.add_argument("--database-url")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create")
    create.add_argument("--tenant", default="default")
    create.add_argument("--scope", required=True, help="comma-separated: admin, write, read")
    create.add_argument("--name", default="unnamed")
    create.add_argument("--live", action="store_true", help="sk_live_ prefix instead of sk_test_")
    listing = keys_sub.add_parser("list")
    listing.add_argument("--tenant")
    keys.set_defaults(func=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
