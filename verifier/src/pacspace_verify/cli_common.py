"""What the command line's modes share: the chain options, reading an input, reaching the RPC."""

from __future__ import annotations

import argparse
import os
import re
import sys

from pacspace_verify.cached_chain import CachedChain
from pacspace_verify.chain import ChainSource, RpcChain
from pacspace_verify.inputs import UnusableInput, load_bundle, require_shape

DEFAULT_RPC = "http://127.0.0.1:8545"


def parse_address(text: str) -> bytes:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise argparse.ArgumentTypeError(f"not a 20-byte 0x address: {text}")
    return bytes.fromhex(text[2:])


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


MODES_HELP = """modes:
  pacspace-verify BUNDLE.json [--rpc URL] ...
      one proof bundle (docs/PROTOCOL.md, section 4: Proof bundle): 14 checks
  pacspace-verify derive EXPORT.jsonl [--receipts KEPT.jsonl] [--checkpoint TOKEN]... [--rpc URL]
                  [--contract 0x..] [--confirmations N] [--json] [--quiet]
      a customer's balance from an export (docs/PROTOCOL.md, section 6: Export), every bundle checked, the chain
      linked; with --receipts/--checkpoint, the export must hold every kept receipt and reach every checkpoint
  pacspace-verify checkpoint TOKEN --export EXPORT.jsonl [--rpc URL] [--contract 0x..] [--json]
      a checkpoint proofToken (docs/PROTOCOL.md, section 5: Checkpoints; TOKEN is 0x… or @file)
      against the customer's export
  pacspace-verify evidence PACK.json [--rpc URL] [--contract 0x..] [--confirmations N] [--json]
      a comparison's evidence pack (GET /v1/comparisons/{id}/evidence): arithmetic, coverage, each
      disputed item against its proof bundle, every bundle (docs/PROTOCOL.md, section 4: Proof bundle),
      the resolution
run "pacspace-verify MODE --help" (derive, checkpoint, evidence) for their options.
exit status: 0 verified, 1 some check failed, 2 unusable input or an unreachable RPC."""


def add_chain_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--rpc",
        default=os.environ.get("PACSPACE_RPC_URL") or DEFAULT_RPC,
        help="JSON-RPC URL of the anchor chain (env PACSPACE_RPC_URL, default %(default)s)",
    )
    parser.add_argument(
        "--contract",
        type=parse_address,
        default=None,
        help=f"the anchor contract you trust; {what} must name it",
    )
    parser.add_argument("--confirmations", type=non_negative, default=1, help="required confirmations (1)")


def cached_chain(url: str) -> CachedChain:
    return CachedChain(RpcChain(url))


def read_input(source: str, members: frozenset[str], what: str) -> tuple[object, list[str]] | None:
    """The decoded JSON of ``source`` and its duplicate keys; None, after one line on stderr, when unusable."""
    try:
        raw, duplicates = load_bundle(source)
        require_shape(raw, members, what, source)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return raw, duplicates


def reachable_chain(url: str) -> CachedChain | None:
    """The cached chain source of ``url``; None, after one line on stderr, when nothing answers there."""
    chain = cached_chain(url)
    return None if unreachable(chain) else chain


def unreachable(chain: ChainSource) -> bool:
    """True (and the one-line message on stderr) when the RPC does not answer at all: there is
    nothing to check against, exit status 2. An RPC that answers, even with an error, is
    reachable: the checks that needed the answer report it."""
    try:
        chain.chain_id()
    except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
        print(f"error: RPC unreachable at {chain.url} ({type(exc).__name__})", file=sys.stderr)
        return True
    except Exception:
        return False
    return False


def contract_origin(pinned: bytes | None, source: str) -> str:
    return "pinned by --contract" if pinned is not None else f"taken from the {source}; pin it with --contract"


def read_and_reach(
    source: str, members: frozenset[str], what: str, rpc: str
) -> tuple[object, list[str], CachedChain] | None:
    """The input of a mode and its chain: (decoded JSON, duplicate keys, chain), or None (exit status
    2) after one line on stderr when the input is unusable or the RPC does not answer at all."""
    read = read_input(source, members, what)
    chain = None if read is None else reachable_chain(rpc)
    if read is None or chain is None:
        return None
    return read[0], read[1], chain
