"""``pacspace-node export``: a customer's verified deltas as JSON Lines of proof bundles, straight from the
database (the same lines as ``GET /v1/balance/export``), for an operator handing a customer its record or
keeping an archive. Read-only: the database, the RPC (for the contract's protocol version), the chain id
and the contract; no key. On a terminal a progress line counts the bundles on stderr."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from node.commands.progress import Progress

if TYPE_CHECKING:
    from node.ledger.receipts import ReceiptReader


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export",
        help="a customer's verified deltas as JSON Lines of proof bundles (what GET /v1/balance/export answers)",
    )
    export.add_argument("customer_id", help="the customer whose deltas to export")
    export.add_argument("--tenant", default="default", help="the tenant the customer belongs to (default: default)")
    export.add_argument("--out", help="write to this file (default: stdout); pacspace-verify derive reads it")
    export.add_argument("--from-index", type=int, default=0, help="first customer index (default 0)")
    export.add_argument("--to-index", type=int, default=None, help="last customer index, inclusive (default: all)")
    export.add_argument("--quiet", action="store_true", help="no progress line on stderr (drawn only on a terminal)")
    export.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from node.chain.client import AnchorClient
    from node.chain.providers import connect_configured
    from node.core.hashing import from_hex
    from node.core.protocol import protocol_for_contract
    from node.core.typed_data import Domain
    from node.ledger.balances import derive_balance
    from node.ledger.receipts import ReceiptReader
    from node.settings import load_settings, resolve_database_url
    from node.store.db import Store
    from node.store.migrate import ensure_current

    settings = load_settings()
    chain = AnchorClient(connect_configured(settings), settings.contract_address)
    chain.check_identity(expected_chain_id=settings.chain_id)
    protocol = protocol_for_contract(chain.protocol_version())
    domain = Domain(settings.chain_id, from_hex(settings.contract_address, length=20), protocol)
    store = Store(resolve_database_url())
    progress = Progress.on(quiet=args.quiet)
    try:
        ensure_current(store)
        balance = derive_balance(store, tenant=args.tenant, customer_id=args.customer_id)  # NotFound: unknown
        reader = ReceiptReader(store=store, domain=domain)
        with Path(args.out).open("wb") if args.out else nullcontext(sys.stdout.buffer) as sink:
            count = _write(sink, reader, args, balance.verified_count, progress)
    finally:
        if progress is not None:
            progress.finish()
        store.close()
    print(f"exported {count} bundles of {args.customer_id}", file=sys.stderr)
    return 0


def _write(
    sink: BinaryIO, reader: ReceiptReader, args: argparse.Namespace, total: int, progress: Progress | None
) -> int:
    count = 0
    for line in reader.export_lines(
        tenant=args.tenant, customer_id=args.customer_id, from_index=args.from_index, to_index=args.to_index
    ):
        sink.write(line)
        count += 1
        if progress is not None:
            progress.step("bundles", count, total)
    return count
