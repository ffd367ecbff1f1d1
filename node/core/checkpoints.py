"""Checkpoints: a signed statement of one customer's range of deltas (docs/PROTOCOL.md §5).

``rangeRoot`` is a StandardMerkleTree over ``(customerIndex, fingerprint)`` leaves, so any
delta of the range can be shown to belong to it; ``proofToken`` is the ABI encoding of the
checkpoint, its domain and both signatures, which any Ethereum library decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode

from node.core.hashing import keccak256, to_hex
from node.core.merkle import MerkleTree, compute_leaf_hash
from node.core.protocol import PROTOCOL_V1, PROTOCOLS
from node.core.typed_data import INT256_MAX, INT256_MIN, Domain

# Protocol 1's names (the Checkpoint type is the same in every version so far).
TOKEN_VERSION = PROTOCOL_V1.token_version
CHECKPOINT_TYPE = PROTOCOL_V1.checkpoint_type
CHECKPOINT_TYPEHASH = PROTOCOL_V1.checkpoint_typehash
_TOKEN_TYPES = [
    "string", "string", "uint64", "uint64", "uint64", "int256", "int256", "int256",
    "bytes32", "bytes32", "uint64", "uint256", "address", "bytes", "bytes",
]  # fmt: skip


class CheckpointRangeError(ValueError):
    """The balances of a range do not fit int256, or the range is malformed."""


@dataclass(frozen=True)
class Checkpoint:
    tenant: str
    customer_id: str
    from_index: int
    to_index: int
    count: int
    opening_balance: int
    net: int
    closing_balance: int
    range_root: bytes
    head_fingerprint: bytes
    created_at: int

    def to_message(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "customerId": self.customer_id,
            "fromIndex": str(self.from_index),
            "toIndex": str(self.to_index),
            "count": str(self.count),
            "openingBalance": str(self.opening_balance),
            "net": str(self.net),
            "closingBalance": str(self.closing_balance),
            "rangeRoot": to_hex(self.range_root),
            "headFingerprint": to_hex(self.head_fingerprint),
            "createdAt": str(self.created_at),
        }


def compute_range_root(fingerprints: Sequence[tuple[int, bytes]]) -> bytes:
    """Root over ``(customerIndex, fingerprint)`` leaves. Requires at least one entry."""
    return MerkleTree.build([compute_leaf_hash(index, fp) for index, fp in fingerprints]).root


def build_checkpoint(
    *,
    tenant: str,
    customer_id: str,
    entries: Sequence[tuple[int, bytes, int]],
    opening_balance: int,
    created_at: int,
) -> Checkpoint:
    """From the range's ``(customerIndex, fingerprint, amount)`` in index order, contiguous."""
    if not entries:
        raise CheckpointRangeError("a checkpoint covers at least one delta")
    first = entries[0][0]
    for offset, (index, _fp, _amount) in enumerate(entries):
        if index != first + offset:
            raise CheckpointRangeError(f"customer index {first + offset} is missing from the range")
    net = sum(amount for _i, _fp, amount in entries)
    closing = opening_balance + net
    for name, value in (("openingBalance", opening_balance), ("net", net), ("closingBalance", closing)):
        if not INT256_MIN <= value <= INT256_MAX:
            raise CheckpointRangeError(f"{name} does not fit int256")
    return Checkpoint(
        tenant=tenant,
        customer_id=customer_id,
        from_index=first,
        to_index=entries[-1][0],
        count=len(entries),
        opening_balance=opening_balance,
        net=net,
        closing_balance=closing,
        range_root=compute_range_root([(i, fp) for i, fp, _a in entries]),
        head_fingerprint=entries[-1][1],
        created_at=created_at,
    )


def _word(value: int, *, signed: bool = False) -> bytes:
    return value.to_bytes(32, "big", signed=signed)


def compute_checkpoint_digest(domain: Domain, cp: Checkpoint) -> bytes:
    struct_hash = keccak256(
        domain.protocol.checkpoint_typehash
        + keccak256(cp.tenant.encode())
        + keccak256(cp.customer_id.encode())
        + _word(cp.from_index)
        + _word(cp.to_index)
        + _word(cp.count)
        + _word(cp.opening_balance, signed=True)
        + _word(cp.net, signed=True)
        + _word(cp.closing_balance, signed=True)
        + cp.range_root
        + cp.head_fingerprint
        + _word(cp.created_at)
    )
    return keccak256(b"\x19\x01" + domain.separator + struct_hash)


def build_checkpoint_typed_data(domain: Domain, cp: Checkpoint) -> dict[str, Any]:
    return {
        "types": domain.protocol.checkpoint_eip712_types,
        "primaryType": "Checkpoint",
        "domain": domain.to_json(),
        "message": cp.to_message(),
    }


def encode_proof_token(domain: Domain, cp: Checkpoint, node_signature: bytes, countersignature: bytes = b"") -> str:
    body = encode(
        _TOKEN_TYPES,
        [
            cp.tenant, cp.customer_id, cp.from_index, cp.to_index, cp.count,
            cp.opening_balance, cp.net, cp.closing_balance, cp.range_root, cp.head_fingerprint, cp.created_at,
            domain.chain_id, to_hex(domain.verifying_contract), node_signature, countersignature,
        ],
    )  # fmt: skip
    return to_hex(bytes([domain.protocol.token_version]) + body)


@dataclass(frozen=True)
class DecodedToken:
    domain: Domain
    checkpoint: Checkpoint
    node_signature: bytes
    countersignature: bytes | None


def decode_proof_token(token: str) -> DecodedToken:
    """Raises ValueError for anything that is not a token of a known protocol version."""
    if not token.startswith("0x"):
        raise ValueError("a proof token is 0x-prefixed hex")
    raw = bytes.fromhex(token[2:])
    by_byte = {p.token_version: p for p in PROTOCOLS.values()}
    if not raw or raw[0] not in by_byte:
        raise ValueError(f"unknown proof token version {raw[:1].hex() or 'none'}")
    values = decode(_TOKEN_TYPES, raw[1:])
    cp = Checkpoint(*values[:11])
    domain = Domain(int(values[11]), bytes.fromhex(str(values[12])[2:]), by_byte[raw[0]])
    return DecodedToken(domain, cp, bytes(values[13]), bytes(values[14]) or None)
