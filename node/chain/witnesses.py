"""Asking every configured provider, each on its own, where an anchor transaction was mined.

The anchoring job counts these reports (node/core/finality.py ``decide_settlement``) before it calls a
batch verified, so a single lying or stale provider cannot make the node claim an anchor that is not
there. A provider that cannot be reached gives no report (it neither confirms nor contradicts).
"""

from __future__ import annotations

from eth_typing import Hash32
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from node.chain.client import AnchorClient
from node.core.finality import ProviderReport

# What a provider that is down or confused raises here; none of it is a report.
_NO_ANSWER: tuple[type[Exception], ...] = (OSError, TimeoutError, ValueError, Web3Exception)


def provider_reports(chain: AnchorClient, tx_hash: bytes, *, with_finalized: bool) -> list[ProviderReport]:
    """One report per provider that answered: the block its receipt names, its head and (if asked) its
    finalized block."""
    if chain.pool is None:
        targets = [("rpc1", chain.w3)]
    else:
        targets = [(endpoint.name, endpoint.w3) for endpoint in chain.pool.endpoints]
    reports = []
    for name, w3 in targets:
        report = _report(name, w3, tx_hash, with_finalized=with_finalized)
        if report is not None:
            reports.append(report)
    return reports


def _report(name: str, w3: Web3, tx_hash: bytes, *, with_finalized: bool) -> ProviderReport | None:
    try:
        try:
            receipt = w3.eth.get_transaction_receipt(Hash32(tx_hash))
        except TransactionNotFound:
            receipt = None
        head = int(w3.eth.block_number)
        finalized = _finalized(w3) if with_finalized else None
    except _NO_ANSWER:
        return None
    if receipt is None:
        return ProviderReport(name, None, None, head, finalized)
    return ProviderReport(name, int(receipt["blockNumber"]), bytes(receipt["blockHash"]), head, finalized)


def _finalized(w3: Web3) -> int | None:
    try:
        return int(w3.eth.get_block("finalized")["number"])
    except Web3Exception:
        return None
