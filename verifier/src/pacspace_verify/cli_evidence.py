"""The ``evidence`` mode: a comparison's evidence pack checked, reported as text or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pacspace_verify.cli_common import MODES_HELP, add_chain_options, contract_origin, read_and_reach
from pacspace_verify.derive import PRINTED_FAILURES
from pacspace_verify.evidence import evidence_summary, pack_contract, pack_lines, run_evidence_checks
from pacspace_verify.evidence_pack import parse_pack
from pacspace_verify.inputs import PACK_MEMBERS
from pacspace_verify.protocol import hx_opt


def build_evidence_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pacspace-verify evidence",
        description=(
            "Verify a comparison's evidence pack (GET /v1/comparisons/{id}/evidence, pacspace.evidence.v1 or v2): "
            "format, arithmetic (variance and counts), coverage (one bundle per disputed receipt), items (each "
            "disputed item against its bundle), bundles (the checks of "
            "docs/PROTOCOL.md, section 4: Proof bundle; chain facts once per batch) and "
            "resolution (consistent with the tolerance)."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pack", help="the evidence pack JSON file, or - for stdin")
    add_chain_options(parser, "every bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    return parser


def main_evidence(argv: list[str]) -> int:
    args = build_evidence_parser().parse_args(argv)
    opened = read_and_reach(args.pack, PACK_MEMBERS, "an evidence pack", args.rpc)
    if opened is None:
        return 2
    raw, duplicates, chain = opened
    pinned: bytes | None = args.contract
    pack = parse_pack(raw, duplicates)
    outcome = run_evidence_checks(pack, chain, pinned, args.confirmations)
    contract = pinned if pinned is not None else pack_contract(pack)
    summary = evidence_summary(pack, outcome)
    if args.json:
        report: dict[str, Any] = {
            "ok": outcome.ok,
            "checks": [r.to_json() for r in outcome.results],
            "comparison": pack.to_json(),
            "bundleFailures": [f.to_json() for f in outcome.failures],
            "bundleFailureCount": outcome.failure_count,
            "contract": hx_opt(contract) if contract is not None else None,
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if outcome.ok else 1
    print(f"evidence: {args.pack} ({pack.version or '?'})")
    for line in pack_lines(pack):
        print(line)
    print(f"contract: {hx_opt(contract)} ({contract_origin(pinned, 'bundles')})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    for r in outcome.results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    for failure in outcome.failures[:PRINTED_FAILURES]:
        print(failure.describe())
    if outcome.failure_count > PRINTED_FAILURES:
        print(f"… and {outcome.failure_count - PRINTED_FAILURES} more bundle failure(s)")
    print(summary)
    return 0 if outcome.ok else 1
