"""``pacspace-node keys``: create, list, revoke and rotate API keys, straight in the node's database."""

from __future__ import annotations

import argparse
import sys
import time


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="create, list, revoke and rotate API keys")
    keys.add_argument(
        "--database-url",
        help="the node's database (default: PACSPACE_DATABASE_URL, DATABASE_URL, then the nearest "
        ".pacspace/pacspace.db in this directory or one above it); a database that does not exist is refused",
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (the tenant is created if new)")
    create.add_argument("--tenant", default="default", help="the tenant the key belongs to (default: default)")
    create.add_argument("--scope", required=True, help="comma-separated: admin, write, read")
    create.add_argument("--customer", help="customer-scoped read key: sees only this customerId")
    create.add_argument("--name", default="unnamed", help="a label for people (shown in `keys list` and the dashboard)")
    create.add_argument("--live", action="store_true", help="sk_live_ prefix instead of sk_test_")
    listing = keys_sub.add_parser("list", help="every key with its status, scopes and last use (never secrets)")
    listing.add_argument("--tenant", help="only this tenant's keys (default: every tenant)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key, effective at once")
    revoke.add_argument("key_id", help="the key's id (key_…, as `keys list` shows it), not its secret")
    rotate = keys_sub.add_parser("rotate", help="issue a new secret; the old key ends after --grace-seconds")
    rotate.add_argument("key_id", help="the key's id (key_…, as `keys list` shows it), not its secret")
    rotate.add_argument(
        "--grace-seconds", type=int, default=0, help="how long the old secret keeps working (default 0: ends now)"
    )
    keys.set_defaults(func=cmd_keys)


def cmd_keys(args: argparse.Namespace) -> int:
    from node.api.admin import key_json
    from node.core.apikeys import parse_scopes
    from node.settings import resolve_database_url
    from node.store.db import Store
    from node.store.keys import create_api_key, get_api_key, list_api_keys, revoke_api_key, rotate_api_key
    from node.store.migrate import ensure_current

    store = Store(resolve_database_url(args.database_url))
    try:
        ensure_current(store)
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
                print(f"created {row.id} in tenant {row.tenant} with scopes {row.scopes}{who} ({store.describe()})")
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
                print(f"error: no API key {args.key_id} in {store.describe()}", file=sys.stderr)
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
