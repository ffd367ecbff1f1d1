"""What can go wrong talking to the chain, one class per case. node/chain raises these (node/chain/rpc.py
translates web3's exceptions into them); callers catch them by class, never by message text."""

from __future__ import annotations

from typing import Any

from node.chain.reverts import DecodedRevert, decode_revert
from node.core.errors import PacSpaceError


class ChainError(PacSpaceError):
    """Base of every chain failure."""

    code = "chain_error"
    status = 502
    title = "Chain error"


class ChainUnavailable(ChainError):
    """The RPC could not be reached or did not answer in time; retrying later may work."""

    code = "chain_unavailable"
    status = 503
    title = "Chain unavailable"


class ChainMismatch(ChainError):
    """The RPC or contract is not the one the node was configured for. Refuse to start."""

    code = "chain_mismatch"
    status = 500
    title = "Chain configuration mismatch"


class ChainReverted(ChainError):
    """The contract refused a call or a gas estimate. ``revert`` is the custom error it reverted with
    (decoded through the ABI), or None when the revert carried no data the ABI knows (``message`` says
    what the RPC said then)."""

    code = "chain_reverted"
    status = 502
    title = "The anchor contract reverted"

    def __init__(self, *, revert: DecodedRevert | None, data: bytes, message: str) -> None:
        self.revert = revert
        self.data = data
        self.message = message
        super().__init__(f"the contract reverted: {self.reason}")

    @classmethod
    def from_data(cls, data: bytes, message: str = "execution reverted") -> ChainReverted:
        return cls(revert=decode_revert(data), data=data, message=message)

    @property
    def reason(self) -> str:
        """``Name(arg=value, ...)``; the raw data in hex, or the RPC's message, if it does not decode."""
        if self.revert is not None:
            return str(self.revert)
        return "0x" + self.data.hex() if self.data else self.message

    @property
    def name(self) -> str | None:
        return None if self.revert is None else self.revert.name

    @property
    def arguments(self) -> dict[str, Any]:
        return {} if self.revert is None else self.revert.arguments


class TransactionAlreadyKnown(ChainError):
    """The RPC already has this signed transaction (in its mempool or mined): sending it again did nothing."""

    code = "transaction_already_known"
    title = "Transaction already known"


class ChainRejected(ChainError):
    """The RPC answered with an error that is none of the above (a nonce or fee the node refuses, ...)."""

    code = "chain_rejected"
    title = "The RPC refused the request"


class NonceTooLow(ChainRejected):
    """The RPC refused a transaction because its account already used that nonce (it, or another
    transaction at the same nonce, is mined)."""

    code = "nonce_too_low"
    title = "Nonce already used"


class FeeBelowBaseFee(ChainRejected):
    """The RPC refused a transaction whose max fee is below the current base fee (it can be sent again,
    as it is, once the base fee falls to it)."""

    code = "fee_below_base_fee"
    title = "Max fee below the base fee"
