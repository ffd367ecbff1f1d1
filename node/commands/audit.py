"""``pacspace-node audit``: the whole database checked against itself and the chain (node.ledger.audit).

Read-only: it needs the database, the RPC, the chain id and the contract, and no key at all.
"""

from __future__ import annotations

import argparse
import json

from node.commands.progress import Progress
from node.core.audit import Discrepancy


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser(
        "audit",
        help="check the whole database against the chain (read-only, no key: PACSPACE_DATABASE_URL, "
        "PACSPACE_RPC_URL, PACSPACE_CHAIN_ID, PACSPACE_CONTRACT_ADDRESS)",
    )
    audit.add_argument(
        "--json", action="store_true", help="print one JSON report on stdout instead of ✓/✗ lines (for scripts)"
    )
    audit.add_argument("--quiet", action="store_true", help="no progress line on stderr (drawn only on a terminal)")
    audit.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    """Check the whole database against the chain; exit 1 on any finding."""
    from node.chain.client import AnchorClient
    from node.chain.providers import connect_configured
    from node.core.hashing import from_hex
    from node.core.protocol import protocol_for_contract
    from node.core.typed_data import Domain
    from node.ledger.audit import audit_database
    from node.settings import load_settings, resolve_database_url
    from node.store.db import Store
    from node.store.migrate import ensure_current

    settings = load_settings()
    database_url = resolve_database_url()
    chain = AnchorClient(connect_configured(settings), settings.contract_address)  # read-only: no key needed
    chain.check_identity(expected_chain_id=settings.chain_id)
    store = Store(database_url)
    progress = Progress.on(quiet=args.quiet)
    try:
        ensure_current(store)
        protocol = protocol_for_contract(chain.protocol_version())
        report = audit_database(
            store,
            chain,
            domain=Domain(settings.chain_id, from_hex(settings.contract_address, length=20), protocol),
            from_block=settings.contract_deployment_block,
            log_span=settings.log_query_span_blocks,
            progress=None if progress is None else progress.step,
        )
    finally:
        if progress is not None:
            progress.finish()
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
            print(f"✗ {_where(finding)}: {finding.reason}: {finding.detail}")
        for customer, findings in customer_findings.items():
            for finding in findings:
                where = f"index {finding.customer_index}" if finding.customer_index is not None else "balance"
                print(f"✗ {customer} {where} {finding.receipt_id or ''}: {finding.reason}: {finding.detail}")
        print("OK: the database agrees with itself and with the chain" if report.ok else "FINDINGS: see above")
    return 0 if report.ok else 1


def _where(finding: Discrepancy) -> str:
    if finding.log_from is not None:
        return f"log indexes {finding.log_from}..{finding.log_to}"
    return f"batch at log index {finding.batch_start}"
