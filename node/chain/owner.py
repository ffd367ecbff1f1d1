"""Transactions the contract owner signs (key rotation: setAnchorer, authoriseSigner, revokeSigner)."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from node.chain import rpc
from node.chain.client import AnchorClient
from node.chain.errors import ChainError, ChainReverted


class OwnerCallRefused(ChainError):
    """The contract refused an owner transaction (it would revert, or did); ``revert`` says why if it can."""

    code = "owner_call_refused"
    status = 409
    title = "The anchor contract refused the call"

    def __init__(self, detail: str, *, revert: ChainReverted | None = None) -> None:
        super().__init__(detail)
        self.revert = revert


def send_owner_transaction(
    chain: AnchorClient, owner: LocalAccount, function: str, *args: Any, timeout: float = 120.0
) -> bytes:
    """Sign and send ``function(*args)`` from the contract owner; returns the mined transaction hash.

    The call is estimated first, so a call the contract would refuse raises OwnerCallRefused (with
    the decoded custom error) before anything is broadcast.
    """
    fn = getattr(chain.contract.functions, function)(*args)
    try:
        gas = int(rpc.call(lambda: fn.estimate_gas({"from": owner.address})))
    except ChainReverted as exc:
        raise OwnerCallRefused(f"{function} refused by {chain.address}: {exc.reason}", revert=exc) from None
    w3 = chain.w3
    tx = fn.build_transaction(
        {
            "from": owner.address,
            "nonce": w3.eth.get_transaction_count(owner.address, "pending"),
            "gas": gas + gas // 5,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = owner.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
    if receipt["status"] != 1:
        raise OwnerCallRefused(f"{function} transaction 0x{bytes(tx_hash).hex()} reverted")
    return bytes(tx_hash)
