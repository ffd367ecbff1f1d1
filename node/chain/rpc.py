"""The one place that turns web3 and RPC exceptions into node/chain/errors.py classes.

Every call node/chain makes to the RPC goes through :func:`call` (or :func:`lookup` for transaction
lookups), so the rest of the node sees ChainUnavailable, ChainReverted, TransactionAlreadyKnown or
ChainRejected, and never needs to read an exception's class name or message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TransactionNotFound,
    Web3RPCError,
)

from node.chain.errors import (
    ChainRejected,
    ChainReverted,
    ChainUnavailable,
    FeeBelowBaseFee,
    NonceTooLow,
    TransactionAlreadyKnown,
)
from node.core.errors import PacSpaceError

T = TypeVar("T")

# requests' errors (what HTTPProvider raises when the RPC is down or slow) are OSErrors.
_UNREACHABLE = (ConnectionError, OSError, TimeoutError, ProviderConnectionError, RequestTimedOut)
# What geth, anvil and other nodes answer to a transaction they already hold.
_ALREADY_KNOWN = ("already known", "already imported", "known transaction")
# ... and to one whose nonce its account has used already (geth, anvil, hardhat word it so).
_NONCE_USED = ("nonce too low", "nonce has already been used")
# ... and to one whose max fee is below the base fee (geth and anvil; hardhat).
_BELOW_BASE_FEE = ("less than block base fee", "too low for the next block")


def call(fn: Callable[[], T]) -> T:
    """``fn()``, with any failure of the RPC raised as a node/chain/errors.py class."""
    try:
        return fn()
    except PacSpaceError:
        raise
    except _UNREACHABLE as exc:
        raise ChainUnavailable(f"RPC unreachable: {exc}") from None
    except ContractLogicError as exc:
        raise _reverted(exc) from None
    except TransactionNotFound:
        raise
    except Web3RPCError as exc:
        text = exc.message.lower()
        if any(phrase in text for phrase in _ALREADY_KNOWN):
            raise TransactionAlreadyKnown(exc.message) from None
        if any(phrase in text for phrase in _NONCE_USED):
            raise NonceTooLow(exc.message) from None
        if any(phrase in text for phrase in _BELOW_BASE_FEE):
            raise FeeBelowBaseFee(exc.message) from None
        raise ChainRejected(f"RPC refused: {exc.message}") from None


def lookup(fn: Callable[[], T]) -> T | None:
    """``fn()`` for a transaction lookup: None while the RPC does not know the transaction, and any
    other failure is ChainUnavailable (the anchoring job retries later)."""
    try:
        return call(fn)
    except TransactionNotFound:
        return None
    except ChainUnavailable:
        raise
    except Exception as exc:
        raise ChainUnavailable(f"RPC failed: {exc}") from None


def _reverted(exc: ContractLogicError) -> ChainReverted:
    data = exc.data if isinstance(exc.data, str) else ""
    raw = bytes.fromhex(data[2:]) if data.startswith("0x") else b""
    return ChainReverted.from_data(raw, exc.message or "execution reverted")
