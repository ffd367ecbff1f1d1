"""A checkpoint's proofToken (section 5): decoding it and its EIP-712 digest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode

from pacspace_verify.protocol import (
    BY_TOKEN_VERSION,
    CHECKPOINT_FIELDS,
    CHECKPOINT_TYPE_HASH,
    DOMAIN_FIELDS,
    DOMAIN_NAME,
    TOKEN_TYPES,
    V1,
    Version,
    domain_separator,
    hx,
    k256,
)


@dataclass(frozen=True)
class Token:
    """A decoded proofToken."""

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
    chain_id: int
    contract: bytes
    node_signature: bytes
    countersignature: bytes
    protocol: Version = V1  # from the token's first byte

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "customerId": self.customer_id,
            "fromIndex": self.from_index,
            "toIndex": self.to_index,
            "count": self.count,
            "openingBalance": str(self.opening_balance),
            "net": str(self.net),
            "closingBalance": str(self.closing_balance),
            "rangeRoot": hx(self.range_root),
            "headFingerprint": hx(self.head_fingerprint),
            "createdAt": self.created_at,
            "chainId": self.chain_id,
            "verifyingContract": hx(self.contract),
            "nodeSignature": hx(self.node_signature),
            "countersignature": hx(self.countersignature) if self.countersignature else None,
        }


def decode_token(data: bytes) -> Token:
    """Decode ``version byte ‖ abi.encode(…15 fields…)``; raises ValueError naming the problem."""
    if not data:
        raise ValueError("the token is empty")
    protocol = BY_TOKEN_VERSION.get(data[0])
    if protocol is None:
        known = ", ".join(f"0x{v:02x}" for v in BY_TOKEN_VERSION)
        raise ValueError(f"token version byte is 0x{data[0]:02x}, this verifier knows {known}")
    body = data[1:]
    try:
        values = decode(TOKEN_TYPES, body)
    except Exception as exc:
        raise ValueError(f"not abi.encode of section 5's 15 fields: {type(exc).__name__}: {exc}") from exc
    if encode(TOKEN_TYPES, list(values)) != body:
        raise ValueError("not the canonical abi.encode of its fields (extra, padded or rearranged bytes)")
    tenant, customer, from_index, to_index, count, opening, net, closing, root, head, created = values[:11]
    chain_id, contract, node_signature, countersignature = values[11:]
    return Token(
        tenant=tenant,
        customer_id=customer,
        from_index=from_index,
        to_index=to_index,
        count=count,
        opening_balance=opening,
        net=net,
        closing_balance=closing,
        range_root=bytes(root),
        head_fingerprint=bytes(head),
        created_at=created,
        chain_id=chain_id,
        contract=bytes.fromhex(contract[2:]),
        node_signature=bytes(node_signature),
        countersignature=bytes(countersignature),
        protocol=protocol,
    )


def checkpoint_digest(t: Token) -> bytes:
    """The checkpoint's EIP-712 digest by hand (section 5's type, section 1's domain and rules)."""
    struct_hash = k256(
        CHECKPOINT_TYPE_HASH
        + k256(t.tenant.encode("utf-8"))
        + k256(t.customer_id.encode("utf-8"))
        + t.from_index.to_bytes(32, "big")
        + t.to_index.to_bytes(32, "big")
        + t.count.to_bytes(32, "big")
        + t.opening_balance.to_bytes(32, "big", signed=True)
        + t.net.to_bytes(32, "big", signed=True)
        + t.closing_balance.to_bytes(32, "big", signed=True)
        + t.range_root
        + t.head_fingerprint
        + t.created_at.to_bytes(32, "big")
    )
    return k256(b"\x19\x01" + domain_separator(t.chain_id, t.contract, t.protocol.domain_version) + struct_hash)


def checkpoint_typed_data(t: Token) -> dict[str, Any]:
    """The checkpoint as EIP-712 typed data JSON (what ``eth_signTypedData_v4`` signs)."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Checkpoint": CHECKPOINT_FIELDS},
        "primaryType": "Checkpoint",
        "domain": {
            "name": DOMAIN_NAME,
            "version": t.protocol.domain_version,
            "chainId": t.chain_id,
            "verifyingContract": hx(t.contract),
        },
        "message": {
            "tenant": t.tenant,
            "customerId": t.customer_id,
            "fromIndex": t.from_index,
            "toIndex": t.to_index,
            "count": t.count,
            "openingBalance": t.opening_balance,
            "net": t.net,
            "closingBalance": t.closing_balance,
            "rangeRoot": hx(t.range_root),
            "headFingerprint": hx(t.head_fingerprint),
            "createdAt": t.created_at,
        },
    }
