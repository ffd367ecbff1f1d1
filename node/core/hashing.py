"""keccak256 and hex helpers shared by every core module.

safe-pysha3 is used directly: it is ~7x faster than eth_hash's default pycryptodome backend,
and hashing is most of what the node does per delta.
"""

from __future__ import annotations

import sha3

ZERO32 = b"\x00" * 32
keccak_256 = sha3.keccak_256  # the constructor, for loops that hash millions of times


def keccak256(data: bytes) -> bytes:
    return sha3.keccak_256(data).digest()  # type: ignore[no-any-return]


def to_hex(data: bytes) -> str:
    """``0x``-prefixed lowercase hex, the only form digests take at the edges."""
    return "0x" + data.hex()


def from_hex(value: str, *, length: int | None = None, field: str = "value") -> bytes:
    """Parse ``0x``-prefixed hex. Requires exactly ``length`` bytes when given."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"{field} must be a 0x-prefixed hex string")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"{field} is not valid hex") from None
    if length is not None and len(raw) != length:
        raise ValueError(f"{field} must be {length} bytes, got {len(raw)}")
    return raw
