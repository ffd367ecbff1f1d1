"""Checking a proof bundle against the chain from inside the node (the dashboard's "verify").

The auditor's verifier does it, not a copy of it: the pacspace_verify package (verifier/) parses
the bundle and runs its fourteen checks, reading the chain with its own ``RpcChain`` at the node's
RPC URL and trusting the node's configured contract, as ``--contract`` pins it on the command
line. So the dashboard shows exactly what ``pacspace-verify BUNDLE.json --contract …`` prints. It
never raises for a chain problem: an unreachable RPC fails the checks that needed it.
"""

from __future__ import annotations

from node.core.hashing import from_hex
from pacspace_verify.bundle import parse_bundle
from pacspace_verify.chain import RpcChain
from pacspace_verify.onchain import run_all_checks
from pacspace_verify.protocol import CHECK_NAMES, CheckResult

__all__ = ["CHECK_NAMES", "NODE_RPC", "CheckResult", "verify_bundle"]

# How the checks' details name the RPC: the URL itself may carry the operator's API key.
NODE_RPC = "the node's RPC"


def verify_bundle(
    bundle: object, *, rpc_url: str, contract: str, required_confirmations: int, timeout: float = 10.0
) -> list[CheckResult]:
    """The fourteen checks of a decoded proof bundle, in the order the verifier prints them."""
    chain = RpcChain(rpc_url, timeout=timeout)
    chain.url = NODE_RPC
    pinned = from_hex(contract.lower(), length=20)
    return run_all_checks(parse_bundle(bundle), chain, pinned, required_confirmations)
