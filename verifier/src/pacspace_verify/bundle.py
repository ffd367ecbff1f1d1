"""A proof bundle (section 4) parsed into typed fields; the ``format`` check's problems.

Parsing never raises: a field that is missing or malformed is left None and the reason is
recorded in ``Bundle.problems``, so every check can still run and say what it skipped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from pacspace_verify.protocol import BY_BUNDLE_VERSION, DELTA_FIELDS, Version, describe, is_int


@dataclass
class Message:
    tenant: str
    customer_id: str
    delta: int
    reason: str
    reference_id: str
    metadata_hash: bytes
    customer_index: int
    prev_fingerprint: bytes
    corrects: bytes
    recorded_at: int
    salt: bytes


@dataclass
class Bundle:
    """A parsed bundle: a field is None when it is missing or malformed (see ``problems``)."""

    raw: object = None
    version: str | None = None
    protocol: Version | None = None  # the version the bundle names, when this verifier knows it
    receipt_id: str | None = None
    chain_id: int | None = None
    contract: bytes | None = None
    typed_data: dict[str, Any] | None = None
    message: Message | None = None
    metadata_hash: bytes | None = None
    metadata: str | None = None
    metadata_ok: bool = False
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


_SIGNED_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
_UNSIGNED_DECIMAL = re.compile(r"(0|[1-9][0-9]*)")


@functools.lru_cache(maxsize=8)
def _hex_pattern(size: int) -> re.Pattern[str]:
    return re.compile(f"0x[0-9a-f]{{{2 * size}}}")


_HEX_PATTERNS = {size: _hex_pattern(size) for size in (20, 32, 65)}


class _Parser:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def get(self, obj: dict[str, Any], key: str, path: str) -> tuple[bool, Any]:
        if key not in obj:
            self.fail(path, "missing")
            return False, None
        return True, obj[key]

    def hexbytes(self, obj: dict[str, Any], key: str, path: str, size: int) -> bytes | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        return self.hex_value(value, path, size)

    def hex_value(self, value: object, path: str, size: int) -> bytes | None:
        pattern = _HEX_PATTERNS.get(size) or _hex_pattern(size)
        if isinstance(value, str) and pattern.fullmatch(value):
            return bytes.fromhex(value[2:])
        want = f"0x + {2 * size} lowercase hex digits ({size} bytes)"
        if not isinstance(value, str):
            self.fail(path, f"expected {want}, got {describe(value)}")
            return None
        if re.fullmatch(f"0x[0-9a-fA-F]{{{2 * size}}}", value):
            self.fail(path, f"must be lowercase hex, got {value}")
        else:
            self.fail(path, f"expected {want}, got {describe(value)}")
        return None

    def integer(self, obj: dict[str, Any], key: str, path: str, bits: int, minimum: int = 0) -> int | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        if not is_int(value):
            self.fail(path, f"expected a JSON integer, got {describe(value)}")
            return None
        if not minimum <= value < 2**bits:
            self.fail(path, f"{value} is outside [{minimum}, 2^{bits})")
            return None
        return int(value)

    def text(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        return self.text_value(value, path)

    def text_value(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {describe(value)}")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(path, "is not valid UTF-8 (lone surrogate)")
            return None
        return value

    def decimal(self, obj: dict[str, Any], key: str, path: str, signed: bool, bits: int) -> int | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        pattern = _SIGNED_DECIMAL if signed else _UNSIGNED_DECIMAL
        if not isinstance(value, str) or not pattern.fullmatch(value) or value == "-0":
            self.fail(path, f"expected a decimal string (section 1), got {describe(value)}")
            return None
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        # int() refuses strings of over 4300 digits; anything that long is out of range anyway
        number = int(value) if len(value) <= len(str(high)) + 1 else None
        if number is None or not low <= number < high:
            self.fail(path, f"{describe(value)} is outside the range of {'int' if signed else 'uint'}{bits}")
            return None
        return number

    def obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        present, value = self.get(parent, key, path)
        if not present:
            return None
        if not isinstance(value, dict):
            self.fail(path, f"expected a JSON object, got {describe(value)}")
            return None
        return value


def _parse_message(p: _Parser, b: Bundle, message: dict[str, Any]) -> None:
    allowed = {f["name"] for f in DELTA_FIELDS}
    extra = sorted(set(message) - allowed)
    if extra:
        p.fail("typedData.message", f"unexpected fields {extra} (not part of the Delta type)")
    tenant = p.text(message, "tenant", "typedData.message.tenant")
    customer_id = p.text(message, "customerId", "typedData.message.customerId")
    delta = p.decimal(message, "delta", "typedData.message.delta", signed=True, bits=256)
    reason = p.text(message, "reason", "typedData.message.reason")
    reference_id = p.text(message, "referenceId", "typedData.message.referenceId")
    b.metadata_hash = p.hexbytes(message, "metadataHash", "typedData.message.metadataHash", 32)
    customer_index = p.decimal(message, "customerIndex", "typedData.message.customerIndex", signed=False, bits=64)
    prev = p.hexbytes(message, "prevFingerprint", "typedData.message.prevFingerprint", 32)
    corrects = p.hexbytes(message, "corrects", "typedData.message.corrects", 32)
    recorded_at = p.decimal(message, "recordedAt", "typedData.message.recordedAt", signed=False, bits=64)
    salt = p.hexbytes(message, "salt", "typedData.message.salt", 32)
    if (
        tenant is None
        or customer_id is None
        or delta is None
        or reason is None
        or reference_id is None
        or b.metadata_hash is None
        or customer_index is None
        or prev is None
        or corrects is None
        or recorded_at is None
        or salt is None
        or extra
    ):
        return
    b.message = Message(
        tenant=tenant,
        customer_id=customer_id,
        delta=delta,
        reason=reason,
        reference_id=reference_id,
        metadata_hash=b.metadata_hash,
        customer_index=customer_index,
        prev_fingerprint=prev,
        corrects=corrects,
        recorded_at=recorded_at,
        salt=salt,
    )


def _parse_typed_data(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    typed = p.obj(raw, "typedData", "typedData")
    if typed is None:
        return
    types = p.obj(typed, "types", "typedData.types")
    domain = p.obj(typed, "domain", "typedData.domain")
    message = p.obj(typed, "message", "typedData.message")
    primary = p.text(typed, "primaryType", "typedData.primaryType")
    if message is not None:
        _parse_message(p, b, message)
    if types is not None and domain is not None and message is not None and primary is not None:
        b.typed_data = typed


def _parse_batch(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    batch = p.obj(raw, "batch", "batch")
    if batch is None:
        return
    b.batch_id = p.integer(batch, "id", "batch.id", 64)
    b.root = p.hexbytes(batch, "root", "batch.root", 32)
    b.start_index = p.integer(batch, "startIndex", "batch.startIndex", 64)
    b.count = p.integer(batch, "count", "batch.count", 32)
    b.tx_hash = p.hexbytes(batch, "txHash", "batch.txHash", 32)
    b.block_number = p.integer(batch, "blockNumber", "batch.blockNumber", 256)
    b.block_hash = p.hexbytes(batch, "blockHash", "batch.blockHash", 32)


def _parse_metadata_field(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    present, value = p.get(raw, "metadata", "metadata")
    if not present:
        return
    if value is None:
        b.metadata, b.metadata_ok = None, True
        return
    text = p.text_value(value, "metadata")
    if text is not None:
        b.metadata, b.metadata_ok = text, True


def _parse_proof(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    present, value = p.get(raw, "proof", "proof")
    if not present:
        return
    if not isinstance(value, list):
        p.fail("proof", f"expected a JSON array of 32-byte hex strings, got {describe(value)}")
        return
    items = [p.hex_value(item, f"proof[{i}]", 32) for i, item in enumerate(value)]
    if all(item is not None for item in items):
        b.proof = [item for item in items if item is not None]


def parse_bundle(raw: object, duplicate_keys: list[str] | None = None) -> Bundle:
    """Parse a decoded bundle; every problem is recorded, never raised."""
    b = Bundle(raw=raw)
    p = _Parser()
    for key in duplicate_keys or []:
        p.fail(key, "duplicate JSON key (the bundle is ambiguous)")
    if not isinstance(raw, dict):
        p.fail("bundle", f"expected a JSON object, got {describe(raw)}")
        b.problems = p.problems
        return b
    version = p.text(raw, "version", "version")
    if version is not None and version not in BY_BUNDLE_VERSION:
        known = ", ".join(repr(v) for v in BY_BUNDLE_VERSION)
        p.fail("version", f"unknown version {version!r} (this verifier knows {known})")
    b.version = version
    b.protocol = BY_BUNDLE_VERSION.get(version) if version is not None else None
    b.receipt_id = p.text(raw, "receiptId", "receiptId")
    b.chain_id = p.integer(raw, "chainId", "chainId", 256, minimum=1)
    b.contract = p.hexbytes(raw, "contract", "contract", 20)
    _parse_typed_data(p, b, raw)
    _parse_metadata_field(p, b, raw)
    b.fingerprint = p.hexbytes(raw, "fingerprint", "fingerprint", 32)
    b.signature = p.hexbytes(raw, "signature", "signature", 65)
    b.signer = p.hexbytes(raw, "signer", "signer", 20)
    b.log_index = p.integer(raw, "logIndex", "logIndex", 64)
    b.leaf = p.hexbytes(raw, "leaf", "leaf", 32)
    _parse_proof(p, b, raw)
    _parse_batch(p, b, raw)
    b.problems = p.problems
    return b


def _loose_index(raw: object) -> int | None:
    """``typedData.message.customerIndex`` of a bundle whose message failed to parse, if readable."""
    try:
        value = raw["typedData"]["message"]["customerIndex"]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return None
    if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,19}", value):
        return int(value)
    return None


def bundle_index(b: Bundle) -> int | None:
    return b.message.customer_index if b.message is not None else _loose_index(b.raw)
