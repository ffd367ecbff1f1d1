"""``pacspace-node db``: schema migrations (upgrade), the schema revision (current), new migrations."""

from __future__ import annotations

import argparse


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema: upgrade (apply migrations), current (show the revision)")
    db.add_argument(
        "--database-url",
        help="default: PACSPACE_DATABASE_URL, DATABASE_URL, then the nearest .pacspace/pacspace.db in this "
        "directory or one above it",
    )
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser(
        "upgrade",
        help="apply every pending migration (back the database up first); creates the database if it is new",
    )
    db_sub.add_parser("current", help="print the schema revision; exit 1 if an upgrade is pending")
    revision = db_sub.add_parser(
        "revision", help="contributors: generate the next migration from the models (use a scratch database)"
    )
    revision.add_argument("-m", "--message", required=True, help="what the migration changes, for its file name")
    db.set_defaults(func=cmd_db)


def cmd_db(args: argparse.Namespace) -> int:
    from node.settings import resolve_database_url
    from node.store.db import Store
    from node.store.migrate import current_revision, head_revision, new_revision, upgrade

    store = Store(resolve_database_url(args.database_url, create=args.db_command == "upgrade"))
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
