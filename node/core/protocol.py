"""Every protocol version the node has ever issued, as one table.

A protocol version fixes everything a third party re-computes: the EIP-712 domain version, the
Delta and Checkpoint field tables (from which the type strings, struct hashes, messages and the
request hash are derived), the leaf and commitment encodings, the proof bundle's version and media
type, the checkpoint token's version byte, and the rule that says whether a receipt's signer is
trusted. Changing anything hashed or signed adds a version here; no version is ever removed or
edited, so every receipt ever issued keeps verifying under the rules it names (docs/PROTOCOL.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from node.core.hashing import keccak256


@dataclass(frozen=True)
class DeltaField:
    """One field of the signed Delta.

    ``name``/``type`` are the EIP-712 member; ``attr`` the attribute of ``typed_data.Delta`` that holds
    it. ``request_key``/``request_attr`` name the client-supplied value that stands for it in the
    request hash (the idempotency digest of what a retry must repeat), or are None for values the
    node assigns itself (chain position, clock, salt).
    """

    name: str
    type: str
    attr: str
    request_key: str | None = None
    request_attr: str | None = None


@dataclass(frozen=True)
class StructField:
    name: str
    type: str


DOMAIN_NAME = "PacSpace"
DOMAIN_FIELDS: tuple[StructField, ...] = (
    StructField("name", "string"),
    StructField("version", "string"),
    StructField("chainId", "uint256"),
    StructField("verifyingContract", "address"),
)

# The Delta of protocols 1 and 2 (the signed struct did not change between them).
DELTA_FIELDS_V1: tuple[DeltaField, ...] = (
    DeltaField("tenant", "string", "tenant"),
    DeltaField("customerId", "string", "customer_id", "customerId", "customer_id"),
    DeltaField("delta", "int256", "delta", "delta", "delta"),
    DeltaField("reason", "string", "reason", "reason", "reason"),
    DeltaField("referenceId", "string", "reference_id", "referenceId", "reference_id"),
    DeltaField("metadataHash", "bytes32", "metadata_hash", "metadata", "metadata_json"),
    DeltaField("customerIndex", "uint64", "customer_index"),
    DeltaField("prevFingerprint", "bytes32", "prev_fingerprint"),
    DeltaField("corrects", "bytes32", "corrects", "correctsReceiptId", "corrects_receipt_id"),
    DeltaField("recordedAt", "uint64", "recorded_at"),
    DeltaField("salt", "bytes32", "salt"),
)

CHECKPOINT_FIELDS_V1: tuple[StructField, ...] = (
    StructField("tenant", "string"),
    StructField("customerId", "string"),
    StructField("fromIndex", "uint64"),
    StructField("toIndex", "uint64"),
    StructField("count", "uint64"),
    StructField("openingBalance", "int256"),
    StructField("net", "int256"),
    StructField("closingBalance", "int256"),
    StructField("rangeRoot", "bytes32"),
    StructField("headFingerprint", "bytes32"),
    StructField("createdAt", "uint64"),
)


class SignerRule(StrEnum):
    """How a verifier decides that a receipt's signer speaks for the operator."""

    # v1 contract: ``isAnchorer(signer)`` now. Revoking the key breaks its old receipts.
    ANCHORER_NOW = "anchorer_now"
    # v2 contract: ``isSignerFor(signer, logIndex)``, a window by log index that never changes for
    # indexes already anchored, so rotation and revocation leave old receipts valid.
    SIGNER_WINDOW = "signer_window"


def type_string(primary: str, fields: tuple[StructField, ...] | tuple[DeltaField, ...]) -> str:
    """EIP-712 ``encodeType`` of a struct with no nested structs: ``Name(type name,...)``."""
    return f"{primary}(" + ",".join(f"{f.type} {f.name}" for f in fields) + ")"


@dataclass(frozen=True)
class ProtocolVersion:
    number: int
    domain_version: str
    bundle_version: str
    token_version: int
    contract_version: int
    signer_rule: SignerRule
    delta_fields: tuple[DeltaField, ...]
    checkpoint_fields: tuple[StructField, ...]

    @property
    def media_type(self) -> str:
        return f"application/vnd.{self.bundle_version}+json"

    @cached_property
    def delta_type(self) -> str:
        return type_string("Delta", self.delta_fields)

    @cached_property
    def delta_typehash(self) -> bytes:
        return keccak256(self.delta_type.encode())

    @cached_property
    def checkpoint_type(self) -> str:
        return type_string("Checkpoint", self.checkpoint_fields)

    @cached_property
    def checkpoint_typehash(self) -> bytes:
        return keccak256(self.checkpoint_type.encode())

    @cached_property
    def eip712_types(self) -> dict[str, list[dict[str, str]]]:
        """The ``types`` member of the typed-data JSON of a Delta (what the bundle carries)."""
        return _types("Delta", self.delta_fields)

    @cached_property
    def checkpoint_eip712_types(self) -> dict[str, list[dict[str, str]]]:
        return _types("Checkpoint", self.checkpoint_fields)


def _types(primary: str, fields: tuple[StructField, ...] | tuple[DeltaField, ...]) -> dict[str, list[dict[str, str]]]:
    members = {"EIP712Domain": DOMAIN_FIELDS, primary: fields}
    return {name: [{"name": f.name, "type": f.type} for f in table] for name, table in members.items()}


PROTOCOL_V1 = ProtocolVersion(
    number=1,
    domain_version="1",
    bundle_version="pacspace.proof.v1",
    token_version=0x01,
    contract_version=1,
    signer_rule=SignerRule.ANCHORER_NOW,
    delta_fields=DELTA_FIELDS_V1,
    checkpoint_fields=CHECKPOINT_FIELDS_V1,
)

PROTOCOL_V2 = ProtocolVersion(
    number=2,
    domain_version="2",
    bundle_version="pacspace.proof.v2",
    token_version=0x02,
    contract_version=2,
    signer_rule=SignerRule.SIGNER_WINDOW,
    delta_fields=DELTA_FIELDS_V1,
    checkpoint_fields=CHECKPOINT_FIELDS_V1,
)

PROTOCOLS: dict[int, ProtocolVersion] = {p.number: p for p in (PROTOCOL_V1, PROTOCOL_V2)}
LATEST = PROTOCOL_V2


def protocol(number: int) -> ProtocolVersion:
    """The table entry of a protocol version. Raises KeyError naming the known versions."""
    try:
        return PROTOCOLS[number]
    except KeyError:
        raise KeyError(f"unknown protocol version {number}; known: {sorted(PROTOCOLS)}") from None


def protocol_for_contract(contract_version: int) -> ProtocolVersion:
    """The version a node issues against a contract of ``contract_version`` (1 or 2)."""
    for entry in sorted(PROTOCOLS.values(), key=lambda p: -p.number):
        if entry.contract_version == contract_version:
            return entry
    raise KeyError(f"no protocol version for anchor contract version {contract_version}")
