"""The command line: the bundle, ``derive``, ``checkpoint`` and ``evidence`` modes, their output and exit status.

Exit status: 0 all checks passed, 1 some check failed, 2 unusable input (not readable, not JSON,
no bundle / pack / export at all) or an RPC that does not answer at all: then one line on stderr
and no report. ``RpcChain`` is built in cli_common.py, from ``--rpc`` (behind a ``CachedChain``, so probing
it costs no extra request); everything below takes the chain as an argument.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Any

from pacspace_verify.bundle import Bundle, parse_bundle
from pacspace_verify.checkpoint import (
    CHECKPOINT_CHECKS,
    CheckpointOutcome,
    RangeSums,
    checkpoint_summary,
    run_checkpoint_checks,
)
from pacspace_verify.cli_common import (
    MODES_HELP,
    add_chain_options,
    contract_origin,
    reachable_chain,
    read_and_reach,
)
from pacspace_verify.cli_evidence import main_evidence
from pacspace_verify.completeness import CompletenessWatch, read_checkpoints, read_kept_receipts
from pacspace_verify.derive import ExportChecker
from pacspace_verify.inputs import (
    BUNDLE_MEMBERS,
    UnusableInput,
    read_token,
    scan_export,
)
from pacspace_verify.onchain import run_all_checks
from pacspace_verify.proof_token import Token, decode_token
from pacspace_verify.protocol import CheckResult, hx, hx_opt


def summary_line(results: list[CheckResult]) -> str:
    failed = [r.name for r in results if not r.ok]
    if not failed:
        return f"verified: all {len(results)} checks passed"
    return f"NOT VERIFIED: {len(failed)} of {len(results)} checks failed ({', '.join(failed)})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pacspace-verify",
        description=(
            "Verify a PacSpace proof bundle (pacspace.proof.v1 or .v2) against the chain "
            "(docs/PROTOCOL.md, section 4: Proof bundle)."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", help="proof bundle JSON file, or - for stdin")
    add_chain_options(parser, "the bundle")
    parser.add_argument(
        "--explorer",
        default=os.environ.get("PACSPACE_EXPLORER_URL") or None,
        help="block explorer base URL (env PACSPACE_EXPLORER_URL) for links",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    return parser


def _links(explorer: str | None, b: Bundle, contract: bytes | None) -> dict[str, str]:
    if not explorer:
        return {}
    base = explorer.rstrip("/")
    links: dict[str, str] = {}
    if b.tx_hash is not None:
        links["transaction"] = f"{base}/tx/{hx(b.tx_hash)}"
    if contract is not None:
        links["contract"] = f"{base}/address/{hx(contract)}"
    return links


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    if argv and argv[0] == "derive":
        return main_derive(argv[1:])
    if argv and argv[0] == "checkpoint":
        return main_checkpoint(argv[1:])
    if argv and argv[0] == "evidence":
        return main_evidence(argv[1:])
    return main_bundle(argv)


def build_derive_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pacspace-verify derive",
        description=(
            "Derive a customer's balance from an export (GET /v1/balance/export, JSON Lines; docs/PROTOCOL.md, "
            "section 6: Export): every bundle gets the checks of section 4, Proof bundle (chain facts fetched "
            "once per batch), and across "
            "bundles customerIndex must run 0, 1, 2, … with each prevFingerprint linking, corrects must name an "
            "earlier delta, and one tenant, customer, chain and contract. Completeness (what an export that passes "
            "all that can still lack): --receipts checks kept_receipts, --checkpoint checks checkpoints."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", help="the export, JSON Lines (one proof bundle a line), or - for stdin")
    add_chain_options(parser, "every bundle")
    parser.add_argument(
        "--receipts",
        metavar="KEPT",
        help=(
            "JSON Lines of the receipts the customer kept (delta.verified webhook payloads, batch.verified "
            "payloads, or receipt JSON from POST /v1/balance/delta or GET /v1/receipts/{id}). kept_receipts: "
            "each must be in the export with the same fingerprint at the same customerIndex; the missing "
            "ones are named by customerIndex and receiptId"
        ),
    )
    parser.add_argument(
        "--checkpoint",
        metavar="TOKEN",
        action="append",
        default=[],
        help=(
            "a checkpoint proofToken the customer holds (0x… or @FILE; repeatable). checkpoints: the export "
            "must reach each toIndex with its headFingerprint; an export that ends before the last "
            "checkpoint fails"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr (drawn only on a terminal)")
    return parser


def main_derive(argv: list[str]) -> int:
    args = build_derive_parser().parse_args(argv)
    pinned: bytes | None = args.contract
    try:
        watch = CompletenessWatch(
            read_kept_receipts(args.receipts) if args.receipts else [], read_checkpoints(args.checkpoint)
        )
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asked = bool(watch.receipts or watch.checkpoints or args.receipts)
    chain = reachable_chain(args.rpc)
    if chain is None:
        return 2
    checker = ExportChecker(chain, pinned, args.confirmations, on_delta=watch if asked else None)
    try:
        scan_export(args.export, checker, progress=None if args.quiet else sys.stderr)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    completeness, missing = watch.results(checker) if asked else ([], [])
    ok = checker.ok and all(r.ok for r in completeness)
    summary = checker.summary()
    if checker.ok and not ok:
        failed = ", ".join(r.name for r in completeness if not r.ok)
        summary = f"NOT DERIVED: the export is incomplete ({failed}): {len(missing)} kept item(s) not in it"
    contract = pinned if pinned is not None else (checker.deployment[1] if checker.deployment else None)
    head = hx_opt(checker.head_fingerprint) if checker.head_index is not None else None
    if args.json:
        report: dict[str, Any] = {
            "ok": ok,
            "count": checker.count,
            "balance": str(checker.balance),
            "headIndex": checker.head_index,
            "headFingerprint": head,
            **checker.failures_json(),
            "tenant": checker.customer[0] if checker.customer else None,
            "customerId": checker.customer[1] if checker.customer else None,
            "chainId": checker.deployment[0] if checker.deployment else None,
            "contract": hx_opt(contract) if contract is not None else None,
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary,
        }
        if asked:
            report["checks"] = [r.to_json() for r in completeness]
            report["missing"] = missing
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    print(f"export: {args.export}")
    print(f"contract: {hx_opt(contract)} ({contract_origin(pinned, 'export')})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    if checker.customer is not None:
        on_chain = f" on chain {checker.deployment[0]}" if checker.deployment else ""
        print(f"customer: {checker.customer[0]}/{checker.customer[1]}{on_chain}")
    print(f"bundles: {checker.count}")
    print(f"balance: {checker.balance}")
    print(f"head: customerIndex {checker.head_index}, fingerprint {head}")
    checker.print_failures(sys.stdout)
    for r in completeness:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    print(summary)
    return 0 if ok else 1


def build_checkpoint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pacspace-verify checkpoint",
        description=(
            "Verify a checkpoint proofToken (docs/PROTOCOL.md, section 5: Checkpoints) against the customer's "
            "export: the node "
            "signature recovers to an authorised anchorer, the export (customerIndex 0..toIndex, later lines ignored) "
            "passes every derive check, and the opening, net and closing balances, count, rangeRoot and "
            "headFingerprint recompute. A countersignature's address is printed."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("token", help="the proofToken, 0x-prefixed hex, or @FILE to read it from a file")
    parser.add_argument("--export", required=True, help="the customer's export, JSON Lines, or - for stdin")
    add_chain_options(parser, "the token and every bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr (drawn only on a terminal)")
    return parser


def main_checkpoint(argv: list[str]) -> int:
    args = build_checkpoint_parser().parse_args(argv)
    pinned: bytes | None = args.contract
    try:
        data = read_token(args.token)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chain = reachable_chain(args.rpc)
    if chain is None:
        return 2
    token: Token | None = None
    checker: ExportChecker | None = None
    try:
        token = decode_token(data)
    except ValueError as exc:
        skipped = "skipped: the token cannot be decoded"
        outcome = CheckpointOutcome(
            [CheckResult("token", False, str(exc))]
            + [CheckResult(name, False, skipped) for name in CHECKPOINT_CHECKS[1:]]
        )
    else:
        contract = pinned if pinned is not None else token.contract
        sums = RangeSums(token.from_index, token.to_index)
        checker = ExportChecker(
            chain,
            contract,
            args.confirmations,
            customer=(token.tenant, token.customer_id),
            deployment=(token.chain_id, token.contract),
            on_delta=sums,
        )
        try:
            scan_export(args.export, checker, progress=None if args.quiet else sys.stderr, stop_after=token.to_index)
        except UnusableInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        outcome = run_checkpoint_checks(token, checker, sums, contract, pinned)
    ok = all(r.ok for r in outcome.results)
    summary = checkpoint_summary(token, outcome)
    contract_shown = pinned if pinned is not None else (token.contract if token else None)
    if args.json:
        report: dict[str, Any] = {
            "ok": ok,
            "checks": [r.to_json() for r in outcome.results],
            "checkpoint": token.to_json() if token else None,
            "signer": hx_opt(outcome.signer) if outcome.signer else None,
            "countersigner": hx_opt(outcome.countersigner) if outcome.countersigner else None,
            "count": checker.count if checker else 0,
            "headIndex": checker.head_index if checker else None,
            "headFingerprint": hx_opt(checker.head_fingerprint) if checker and checker.head_fingerprint else None,
            **(checker.failures_json() if checker else {"failures": [], "failureCount": 0, "failuresOmitted": 0}),
            "contract": hx_opt(contract_shown) if contract_shown else None,
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    if token is not None:
        print(
            f"checkpoint: {token.tenant}/{token.customer_id} deltas {token.from_index}..{token.to_index} "
            f"(count {token.count}), opening {token.opening_balance}, net {token.net}, "
            f"closing {token.closing_balance}"
        )
    print(f"contract: {hx_opt(contract_shown)} ({contract_origin(pinned, 'token')})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    print(f"signer: {hx_opt(outcome.signer)}")
    print(f"countersigner: {hx(outcome.countersigner) if outcome.countersigner else 'not countersigned'}")
    for r in outcome.results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    if checker is not None:
        checker.print_failures(sys.stdout)
    print(summary)
    return 0 if ok else 1


def main_bundle(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    opened = read_and_reach(args.bundle, BUNDLE_MEMBERS, "a proof bundle", args.rpc)
    if opened is None:
        return 2
    raw, duplicates, chain = opened
    pinned: bytes | None = args.contract
    b = parse_bundle(raw, duplicates)
    contract = pinned if pinned is not None else b.contract
    results = run_all_checks(b, chain, pinned, args.confirmations)
    ok = all(r.ok for r in results)
    links = _links(args.explorer, b, contract)
    if args.json:
        report: dict[str, Any] = {
            "ok": ok,
            "checks": [r.to_json() for r in results],
            "contract": hx_opt(contract),
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary_line(results),
        }
        if links:
            report["links"] = links
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    origin = "pinned by --contract" if pinned is not None else "taken from the bundle; pin it with --contract"
    print(f"bundle: {b.receipt_id or '?'} ({b.version or '?'})")
    print(f"contract: {hx_opt(contract)} ({origin})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    for r in results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    for name, url in links.items():
        print(f"{name}: {url}")
    print(summary_line(results))
    return 0 if ok else 1
