"""A proof bundle's JSON read into typed fields, for checking it (node.core.bundle_checks).

Reading never raises: a field that is missing or malformed stays None and the reason goes to
``problems``, so every check can still run and say which input it lacked. The rules are
docs/PROTOCOL.md's: lowercase ``0x`` hex of fixed sizes, integers of the typed data as decimal
strings, bundle integers as JSON numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from node.core.protocol import PROTOCOL_V1
from node.core.typed_data import EIP712_TYPES, Delta

BUNDLE_VERSION = PROTOCOL_V1.bundle_version

_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,79})")
MESSAGE_FIELDS = tuple(f["name"] for f in EIP712_TYPES["Delta"])


@dataclass
class ReadBundle:
    """The fields of a bundle; None where missing or malformed (``problems`` says why)."""

    raw: object = None
    version: str | None = None
    receipt_id: str | None = None
    chain_id: int | None = None
    contract: bytes | None = None
    typed_data: dict[str, Any] | None = None  # set when types, domain, message and primaryType are present
    delta: Delta | None = None  # the message, when every field of it reads
    metadata_hash: bytes | None = None  # the message's, read on its own: the metadata check needs only it
    metadata_present: bool = False  # "metadata" is there and is null or a string
    metadata: str | None = None
    fingerprint: bytes | None = None
    signature: bytes | None = None
    signer: bytes | None = None
    log_index: int | None = None
    leaf: bytes | None = None
    proof: list[bytes] | None = None
    batch_id: int | None = None
    root: bytes | None = None
    start_index: int | None = None
    count: int | None = None
    tx_hash: bytes | None = None
    block_number: int | None = None
    block_hash: bytes | None = None
    problems: list[str] = field(default_factory=list)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string" if len(value) <= 40 else f"a string of {len(value)} characters"
    return f"a JSON {'array' if isinstance(value, list) else type(value).__name__}"


class _Reader:
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def take(self, obj: dict[str, Any], key: str, path: str) -> tuple[bool, Any]:
        if key not in obj:
            self.problems.append(f"{path}: missing")
            return False, None
        return True, obj[key]

    def hex_of(self, value: object, path: str, size: int) -> bytes | None:
        if isinstance(value, str) and len(value) == 2 + 2 * size and re.fullmatch(r"0x[0-9a-f]*", value):
            return bytes.fromhex(value[2:])
        self.problems.append(f"{path}: expected 0x and {2 * size} lowercase hex digits, got {_kind(value)}")
        return None

    def hex(self, obj: dict[str, Any], key: str, path: str, size: int) -> bytes | None:
        present, value = self.take(obj, key, path)
        return self.hex_of(value, path, size) if present else None

    def number(self, obj: dict[str, Any], key: str, path: str, bits: int, minimum: int = 0) -> int | None:
        present, value = self.take(obj, key, path)
        if not present:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.problems.append(f"{path}: expected a JSON integer, got {_kind(value)}")
            return None
        if not minimum <= value < 2**bits:
            self.problems.append(f"{path}: {value} is outside [{minimum}, 2^{bits})")
            return None
        return value

    def text_of(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.problems.append(f"{path}: expected a string, got {_kind(value)}")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.problems.append(f"{path}: not valid UTF-8")
            return None
        return value

    def text(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        present, value = self.take(obj, key, path)
        return self.text_of(value, path) if present else None

    def decimal(self, obj: dict[str, Any], key: str, path: str, *, signed: bool, bits: int) -> int | None:
        present, value = self.take(obj, key, path)
        if not present:
            return None
        if (
            not isinstance(value, str)
            or not _DECIMAL.fullmatch(value)
            or value == "-0"
            or (not signed and value.startswith("-"))
        ):
            self.problems.append(f"{path}: expected a decimal string, got {_kind(value)}")
            return None
        number = int(value)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        if not low <= number < high:
            self.problems.append(f"{path}: {value} is outside the {'int' if signed else 'uint'}{bits} range")
            return None
        return number

    def object(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        present, value = self.take(obj, key, path)
        if not present:
            return None
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected a JSON object, got {_kind(value)}")
            return None
        return value


def _read_message(r: _Reader, b: ReadBundle, message: dict[str, Any]) -> None:
    p = "typedData.message."
    unknown = sorted(set(message) - set(MESSAGE_FIELDS))
    if unknown:
        r.problems.append(f"typedData.message: fields {unknown} are not part of the Delta type")
    values: dict[str, Any] = {
        "tenant": r.text(message, "tenant", p + "tenant"),
        "customer_id": r.text(message, "customerId", p + "customerId"),
        "delta": r.decimal(message, "delta", p + "delta", signed=True, bits=256),
        "reason": r.text(message, "reason", p + "reason"),
        "reference_id": r.text(message, "referenceId", p + "referenceId"),
        "metadata_hash": r.hex(message, "metadataHash", p + "metadataHash", 32),
        "customer_index": r.decimal(message, "customerIndex", p + "customerIndex", signed=False, bits=64),
        "prev_fingerprint": r.hex(message, "prevFingerprint", p + "prevFingerprint", 32),
        "corrects": r.hex(message, "corrects", p + "corrects", 32),
        "recorded_at": r.decimal(message, "recordedAt", p + "recordedAt", signed=False, bits=64),
        "salt": r.hex(message, "salt", p + "salt", 32),
    }
    b.metadata_hash = values["metadata_hash"]
    if not unknown and all(v is not None for v in values.values()):
        b.delta = Delta(**values)


def _read_typed_data(r: _Reader, b: ReadBundle, raw: dict[str, Any]) -> None:
    typed = r.object(raw, "typedData", "typedData")
    if typed is None:
        return
    parts = [r.object(typed, key, f"typedData.{key}") for key in ("types", "domain", "message")]
    primary = r.text(typed, "primaryType", "typedData.primaryType")
    if parts[2] is not None:
        _read_message(r, b, parts[2])
    if all(part is not None for part in parts) and primary is not None:
        b.typed_data = typed


def _read_metadata(r: _Reader, b: ReadBundle, raw: dict[str, Any]) -> None:
    present, value = r.take(raw, "metadata", "metadata")
    if not present:
        return
    if value is None:
        b.metadata_present = True
        return
    text = r.text_of(value, "metadata")
    if text is not None:
        b.metadata, b.metadata_present = text, True


def _read_proof(r: _Reader, b: ReadBundle, raw: dict[str, Any]) -> None:
    present, value = r.take(raw, "proof", "proof")
    if not present:
        return
    if not isinstance(value, list):
        r.problems.append(f"proof: expected an array of 32-byte hex strings, got {_kind(value)}")
        return
    siblings = [r.hex_of(item, f"proof[{i}]", 32) for i, item in enumerate(value)]
    if all(s is not None for s in siblings):
        b.proof = [s for s in siblings if s is not None]


def _read_batch(r: _Reader, b: ReadBundle, raw: dict[str, Any]) -> None:
    batch = r.object(raw, "batch", "batch")
    if batch is None:
        return
    b.batch_id = r.number(batch, "id", "batch.id", 64)
    b.root = r.hex(batch, "root", "batch.root", 32)
    b.start_index = r.number(batch, "startIndex", "batch.startIndex", 64)
    b.count = r.number(batch, "count", "batch.count", 32)
    b.tx_hash = r.hex(batch, "txHash", "batch.txHash", 32)
    b.block_number = r.number(batch, "blockNumber", "batch.blockNumber", 256)
    b.block_hash = r.hex(batch, "blockHash", "batch.blockHash", 32)


def read_bundle(raw: object) -> ReadBundle:
    """Read a decoded bundle; every problem is recorded in ``problems``, never raised."""
    b = ReadBundle(raw=raw)
    r = _Reader(b.problems)
    if not isinstance(raw, dict):
        b.problems.append(f"bundle: expected a JSON object, got {_kind(raw)}")
        return b
    b.version = r.text(raw, "version", "version")
    if b.version is not None and b.version != BUNDLE_VERSION:
        b.problems.append(f"version: {b.version!r} is not {BUNDLE_VERSION!r}")
    b.receipt_id = r.text(raw, "receiptId", "receiptId")
    b.chain_id = r.number(raw, "chainId", "chainId", 256, minimum=1)
    b.contract = r.hex(raw, "contract", "contract", 20)
    _read_typed_data(r, b, raw)
    _read_metadata(r, b, raw)
    b.fingerprint = r.hex(raw, "fingerprint", "fingerprint", 32)
    b.signature = r.hex(raw, "signature", "signature", 65)
    b.signer = r.hex(raw, "signer", "signer", 20)
    b.log_index = r.number(raw, "logIndex", "logIndex", 64)
    b.leaf = r.hex(raw, "leaf", "leaf", 32)
    _read_proof(r, b, raw)
    _read_batch(r, b, raw)
    return b
