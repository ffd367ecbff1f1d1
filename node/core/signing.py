"""Receipt signatures: a raw secp256k1 signature over the 32-byte fingerprint.

No EIP-191 prefix: the fingerprint is already an EIP-712 digest, so this is exactly what
``eth_account.Account.unsafe_sign_hash`` / ``ecrecover(fingerprint, v, r, s)`` use.
Signatures are 65 bytes ``r ‖ s ‖ v`` with v in {27, 28} and low s.

A ``ReceiptSigner`` is anything that signs such digests for one address: the in-memory ``Signer`` here,
or an external EIP-712 signer (node/chain/remote_signers.py), which needs the typed data itself rather
than the digest; each request therefore carries both, the typed data built only if it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import coincurve

from node.core.hashing import keccak256

# A digest to sign and a function that builds its EIP-712 typed data ({types, primaryType, domain, message}).
SigningRequest = tuple[bytes, Callable[[], dict[str, Any]]]


class ReceiptSigner(Protocol):
    """Signs receipt and checkpoint digests for ``address``."""

    @property
    def address(self) -> bytes: ...

    def sign_typed(self, requests: Sequence[SigningRequest]) -> list[bytes]:
        """One 65-byte signature per request, in order. Raises rather than return a wrong one."""
        ...


class Signer:
    """Holds a private key in memory; never renders it (repr shows only the address)."""

    __slots__ = ("_key", "address")

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise ValueError("private key must be 32 bytes")
        self._key = coincurve.PrivateKey(private_key)
        public = self._key.public_key.format(compressed=False)[1:]
        self.address: bytes = keccak256(public)[-20:]

    def __repr__(self) -> str:
        return f"Signer(address=0x{self.address.hex()})"

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes([raw[64] + 27])

    def sign_typed(self, requests: Sequence[SigningRequest]) -> list[bytes]:
        return [self.sign_digest(digest) for digest, _typed_data in requests]


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed ``digest``. Raises ValueError on a malformed signature."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError("signature must be 65 bytes r||s||v with v 27 or 28")
    recoverable = signature[:64] + bytes([signature[64] - 27])
    public = coincurve.PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    return keccak256(public.format(compressed=False)[1:])[-20:]
