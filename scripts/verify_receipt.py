#!/usr/bin/env python3
"""Standalone verifier for PacSpace proof bundles, exports, checkpoints and evidence packs.

Written from docs/PROTOCOL.md alone: it never imports the ``node`` package, so a passing run
shows the document is enough to check a receipt. It needs only web3, eth-account, eth-utils
and eth-abi (safe-pysha3 and coincurve, when installed, make exports faster).

Four modes::

    python scripts/verify_receipt.py BUNDLE.json [--rpc URL] [--contract 0x..]
                                     [--confirmations N] [--explorer URL] [--json]
    python scripts/verify_receipt.py derive EXPORT.jsonl [--rpc URL] [--contract 0x..]
                                     [--confirmations N] [--json] [--quiet]
    python scripts/verify_receipt.py checkpoint TOKEN --export EXPORT.jsonl [--rpc URL]
                                     [--contract 0x..] [--confirmations N] [--json] [--quiet]
    python scripts/verify_receipt.py evidence PACK.json [--rpc URL] [--contract 0x..]
                                     [--confirmations N] [--json]

**Bundle** (section 4). ``BUNDLE.json`` is the body of ``GET /v1/receipts/{id}/proof`` (``-``
reads stdin).

* ``--rpc``: JSON-RPC endpoint of the anchor chain (env ``PACSPACE_RPC_URL``, else
  ``http://127.0.0.1:8545``).
* ``--contract``: the anchor contract you trust. When given, the bundle must name it and every
  on-chain check queries it; without it the bundle's own ``contract`` is used (and printed, so
  you can see which contract was trusted).
* ``--confirmations``: blocks required on top of the anchoring block, counting that block
  (default 1).
* ``--explorer``: block explorer base URL (env ``PACSPACE_EXPLORER_URL``); prints links to the
  anchoring transaction and the contract.
* ``--json``: print ``{"ok": bool, "checks": [{"name", "ok", "detail"}], ...}`` instead of lines.

Every check runs (none stops the others); a check whose inputs failed to parse is reported as
failed with the reason. Offline checks: format, domain, fingerprint, metadata, signature, leaf,
proof, range. On-chain checks: chain_id, anchorer, commitment, transaction, block,
confirmations. Exit status (every mode): 0 all checks passed, 1 some check failed, 2 unusable
input (file missing, not JSON, JSON that is no bundle at all, an empty export) or an RPC that does
not answer at all; with 2, one line on stderr and no report.

**derive** (section 6). ``EXPORT.jsonl`` is ``GET /v1/balance/export`` (one bundle a line,
customerIndex order), streamed a line at a time. Every bundle gets the 14 checks above (the
fingerprint by section 1's formulas, chain facts fetched once per batch, the chain id once,
``isAnchorer`` once per signer); across bundles: ``gap`` (customerIndex must run 0, 1, 2, …;
the first missing index is named), ``order``, ``link`` (prevFingerprint), ``corrects`` (names
an earlier delta of the export), ``customer`` and ``deployment`` (one tenant/customer, one
chain/contract). Prints the count, the balance (sum of ``message.delta``), the head index and
fingerprint, and ``derived: balance N over C verified deltas`` or the failures (first 50 lines;
``--json`` keeps up to 10,000 and the total). Progress goes to stderr every 10,000 bundles
unless ``--quiet``.

**checkpoint** (section 5). ``TOKEN`` is the ``0x`` proofToken or ``@file``. Checks: token,
signature, anchorer, countersignature, export (every derive check on indexes 0..toIndex; later
lines are ignored), range, opening, net, closing, root, head. The countersigner's address is
printed (or "not countersigned"); whether it is the customer's is for the reader to decide.

**evidence**. ``PACK.json`` is ``GET /v1/comparisons/{id}/evidence`` (``pacspace.evidence.v1``:
the comparison, its complete difference lists and a proof bundle for every disputed record
item; ``-`` reads stdin). It prints the customer, record vs their balance, the variance, the
resolution and the counts, then the checks: ``format`` (version, required fields, types),
``arithmetic`` (variance = theirBalance − recordBalance; each count is its list's length),
``coverage`` (exactly one bundle per receipt of onlyInRecord and amountMismatch, none other),
``items`` (each of those items against its bundle's message: referenceId, the record's amount
= delta, customerIndex, the comparison's customerId), ``bundles`` (the 14 checks above for every
bundle, chain facts fetched once per batch as in derive; each failure names its receipt) and
``resolution`` ("match" needs variance 0 and no onlyInTheirs or amountMismatch; "auto_settled"
must be within the tolerance, "needs_evidence" beyond it: ``absolute`` bounds |variance|,
``basisPoints`` bounds it by |recordBalance|·bp/10000, both when both are set, only 0 when none).

The check functions are pure: they take the parsed bundle and, for on-chain checks, the values
fetched from the chain (``ChainFacts``); ``RpcChain`` is the only code that talks to a node, so
the offline checks (and the on-chain ones, given a fake ``ChainSource``) run without an RPC.

The code is the ``pacspace_verify`` package next to this file (its ``__init__`` lists the
modules); this file is the entry point and keeps the names the tests use reachable on itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

# Put the package's directory on the path however this file was reached: run from any
# directory, as a subprocess, or loaded by path with importlib (the tests).
if (_here := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _here)

from pacspace_verify import (
    bundle,
    chain,
    checkpoint,
    cli,
    derive,
    evidence,
    evidence_pack,
    inputs,
    offline,
    onchain,
    proof_token,
    protocol,
)
from pacspace_verify.bundle import parse_bundle
from pacspace_verify.chain import LogEntry, RpcChain, TxReceipt
from pacspace_verify.cli import main, summary_line
from pacspace_verify.derive import KEPT_FAILURES, PRINTED_FAILURES, ExportChecker
from pacspace_verify.inputs import PROGRESS_EVERY, scan_export
from pacspace_verify.offline import run_offline_checks
from pacspace_verify.onchain import run_all_checks
from pacspace_verify.proof_token import checkpoint_digest, decode_token
from pacspace_verify.protocol import (
    _CC_PUBLIC_KEY,
    _KECCAK_256,
    CHECKPOINT_TYPE,
    DELTA_FIELDS,
    DELTA_TYPE,
    DELTA_TYPE_HASH,
    batch_commitment,
    canonical_json,
    domain_separator,
    hx,
    leaf_hash,
    recover_signer,
    standard_tree_root,
    type_string,
)

__all__ = [
    "CHECKPOINT_TYPE",
    "DELTA_FIELDS",
    "DELTA_TYPE",
    "DELTA_TYPE_HASH",
    "KEPT_FAILURES",
    "PRINTED_FAILURES",
    "PROGRESS_EVERY",
    "_CC_PUBLIC_KEY",
    "_KECCAK_256",
    "ExportChecker",
    "LogEntry",
    "RpcChain",
    "TxReceipt",
    "batch_commitment",
    "canonical_json",
    "checkpoint_digest",
    "decode_token",
    "domain_separator",
    "hx",
    "leaf_hash",
    "main",
    "parse_bundle",
    "recover_signer",
    "run_all_checks",
    "run_offline_checks",
    "scan_export",
    "standard_tree_root",
    "summary_line",
    "type_string",
]

_MODULES: tuple[ModuleType, ...] = (
    protocol,
    bundle,
    offline,
    chain,
    onchain,
    derive,
    inputs,
    proof_token,
    checkpoint,
    cli,
    evidence_pack,
    evidence,
)


class _Facade(ModuleType):
    """This module once held the whole verifier, and tests still set names on it
    (``monkeypatch.setattr(verifier, "RpcChain", fake)``). A name set here is also set in every
    package module that binds it, so the code that reads it sees the change, as in one file."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("__"):
            for module in _MODULES:
                if name in vars(module):
                    setattr(module, name, value)
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    """Any other name the single file had (``check_proof``, ``CachedChain``, ...), from the package."""
    if not name.startswith("__"):
        for module in _MODULES:
            if name in vars(module):
                return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_self = sys.modules.get(__name__)
if _self is not None and vars(_self) is globals():
    _self.__class__ = _Facade


if __name__ == "__main__":
    sys.exit(main())
