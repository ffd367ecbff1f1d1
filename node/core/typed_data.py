"""The Delta as EIP-712 typed data, and its fingerprint (the EIP-712 digest).

The type string, the struct hash and the JSON message are all derived from the protocol version's
field table (node.core.protocol), so a field cannot be added to one and forgotten in another. The
struct hash is encoded directly from that table rather than through eth-account's generic encoder,
which is much slower and runs once per recorded delta; tests/unit/test_typed_data.py checks it
against eth-account's ``encode_typed_data`` for arbitrary deltas.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from node.core.hashing import keccak256, to_hex
from node.core.protocol import DOMAIN_FIELDS, DOMAIN_NAME, PROTOCOL_V1, DeltaField, ProtocolVersion, type_string

INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
UINT64_MAX = 2**64 - 1

DOMAIN_TYPE = type_string("EIP712Domain", DOMAIN_FIELDS)
DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE.encode())
# Protocol 1's names, kept for callers that mean "the Delta as first issued" (the type is unchanged in 2).
DOMAIN_VERSION = PROTOCOL_V1.domain_version
DELTA_TYPE = PROTOCOL_V1.delta_type
DELTA_TYPEHASH = PROTOCOL_V1.delta_typehash
EIP712_TYPES: dict[str, list[dict[str, str]]] = PROTOCOL_V1.eip712_types


def _word(value: int, *, signed: bool = False) -> bytes:
    return value.to_bytes(32, "big", signed=signed)


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain: binds every fingerprint to one chain and one anchor contract."""

    chain_id: int
    verifying_contract: bytes  # 20 bytes
    protocol: ProtocolVersion = PROTOCOL_V1

    def __post_init__(self) -> None:
        if len(self.verifying_contract) != 20:
            raise ValueError("verifying_contract must be 20 bytes")
        if self.chain_id <= 0:
            raise ValueError("chain_id must be positive")

    @cached_property
    def separator(self) -> bytes:
        return keccak256(
            DOMAIN_TYPEHASH
            + keccak256(DOMAIN_NAME.encode())
            + keccak256(self.protocol.domain_version.encode())
            + _word(self.chain_id)
            + b"\x00" * 12
            + self.verifying_contract
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": self.protocol.domain_version,
            "chainId": self.chain_id,
            "verifyingContract": to_hex(self.verifying_contract),
        }


@dataclass(frozen=True)
class Delta:
    """One credit delta as signed. Requires 32-byte digests and in-range integers."""

    tenant: str
    customer_id: str
    delta: int
    reason: str
    reference_id: str
    metadata_hash: bytes
    customer_index: int
    prev_fingerprint: bytes
    recorded_at: int
    salt: bytes
    corrects: bytes = b"\x00" * 32  # fingerprint of the delta this one corrects; zero when none

    def __post_init__(self) -> None:
        if not INT256_MIN <= self.delta <= INT256_MAX:
            raise ValueError("delta outside int256")
        if not 0 <= self.customer_index <= UINT64_MAX or not 0 <= self.recorded_at <= UINT64_MAX:
            raise ValueError("customer_index and recorded_at must fit uint64")
        for name in ("metadata_hash", "prev_fingerprint", "salt", "corrects"):
            if len(getattr(self, name)) != 32:
                raise ValueError(f"{name} must be 32 bytes")

    def to_message(self, fields: tuple[DeltaField, ...] = PROTOCOL_V1.delta_fields) -> dict[str, Any]:
        """The EIP-712 message: integers as decimal strings (int256 does not survive a JavaScript double)."""
        return {f.name: _MESSAGE_FORMS[f.type](getattr(self, f.attr)) for f in fields}


def _encode_string(value: str) -> bytes:
    return keccak256(value.encode())


def _encode_int256(value: int) -> bytes:
    return value.to_bytes(32, "big", signed=True)


def _encode_uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _encode_bytes32(value: bytes) -> bytes:
    return value


# EIP-712 ``encodeData`` of each member type a Delta uses, and its form in the JSON message.
_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "string": _encode_string,
    "int256": _encode_int256,
    "uint64": _encode_uint,
    "bytes32": _encode_bytes32,
}
_MESSAGE_FORMS: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "int256": str,
    "uint64": str,
    "bytes32": to_hex,
}


_StructPlan = tuple[bytes, Callable[[Delta], tuple[Any, ...]], tuple[Callable[[Any], bytes], ...]]
# By the identity of the protocol entry (kept alive by its own value, so its id is not reused): a
# functools.cache keyed by the entry hashed the whole frozen field table on every call, which cost
# more than encoding the struct.
_PLANS: dict[int, tuple[ProtocolVersion, _StructPlan]] = {}


def _struct_plan(protocol: ProtocolVersion) -> _StructPlan:
    """The type hash, an attribute getter and one encoder per field, derived once from the field table."""
    entry = _PLANS.get(id(protocol))
    if entry is not None and entry[0] is protocol:
        return entry[1]
    fields = protocol.delta_fields
    getter = operator.attrgetter(*(f.attr for f in fields))
    plan: _StructPlan = (protocol.delta_typehash, getter, tuple(_ENCODERS[f.type] for f in fields))
    _PLANS[id(protocol)] = (protocol, plan)
    return plan


def compute_struct_hash(delta: Delta, protocol: ProtocolVersion = PROTOCOL_V1) -> bytes:
    """EIP-712 ``hashStruct(delta)`` under ``protocol``'s field table."""
    typehash, getter, encoders = _struct_plan(protocol)
    values = getter(delta)
    return keccak256(typehash + b"".join([encode(value) for encode, value in zip(encoders, values, strict=True)]))


def compute_fingerprint(domain: Domain, delta: Delta) -> bytes:
    """The EIP-712 digest ``keccak256(0x1901 ‖ domainSeparator ‖ structHash)``."""
    return keccak256(b"\x19\x01" + domain.separator + compute_struct_hash(delta, domain.protocol))


def build_typed_data(domain: Domain, delta: Delta) -> dict[str, Any]:
    """The standard ``{types, primaryType, domain, message}`` JSON that any EIP-712 library hashes."""
    return {
        "types": domain.protocol.eip712_types,
        "primaryType": "Delta",
        "domain": domain.to_json(),
        "message": delta.to_message(domain.protocol.delta_fields),
    }
