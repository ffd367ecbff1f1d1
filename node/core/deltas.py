"""Rules for recording a delta: field limits, the idempotency digest, and the chained Delta.

Pure: the caller supplies the customer's chain head, the clock reading and the salt.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string
from typing import Any

from node.core.canonical_json import canonicalize, compute_metadata_hash
from node.core.errors import FieldError, InvalidInput
from node.core.hashing import ZERO32, keccak256
from node.core.protocol import LATEST
from node.core.typed_data import INT256_MAX, INT256_MIN, Delta


def _json_string(value: str | None) -> str:
    """What ``json.dumps(value, ensure_ascii=False)`` gives for a string or None (RFC 8785 forms)."""
    return "null" if value is None else _encode_string(value)


MAX_CUSTOMER_ID = 128
MAX_REFERENCE_ID = 128
MAX_REASON = 512
MAX_METADATA_BYTES = 16 * 1024
# Every index or unix time a request may name (customer and log indexes, asOf, checkpoint ranges):
# what a database BIGINT holds. A larger number is a 422, never a failed query.
MAX_INDEX = 2**63 - 1
RESERVED_CUSTOMER_PREFIX = "pacspace:"  # the node's own chains, such as settlements of comparisons


# (``"key":`` in canonical order, DeltaRequest attribute) for every client-supplied Delta field.
_REQUEST_HASH_PLAN: tuple[tuple[str, str], ...] = tuple(
    (_json_string(f.request_key) + ":", f.request_attr)
    for f in sorted(LATEST.delta_fields, key=lambda f: f.request_key or "")
    if f.request_key is not None and f.request_attr is not None
)


@dataclass(frozen=True)
class DeltaRequest:
    """A validated request. ``metadata_json`` is canonical JSON text or None."""

    customer_id: str
    delta: int
    reason: str
    reference_id: str
    metadata_json: str | None
    corrects_receipt_id: str | None = None

    @property
    def request_hash(self) -> bytes:
        """What a retry must repeat exactly to get the first receipt back.

        keccak256 of the canonical JSON of ``{customerId, delta (decimal string), reason, referenceId,
        metadata (canonical text or null), correctsReceiptId (or null)}``: the Delta fields the field
        table marks as client-supplied (node.core.protocol). Every value is a string or null and the
        keys are fixed, so the text is assembled directly in canonical key order with the string
        encoder ``canonicalize`` uses (tests/unit/test_deltas.py checks both agree).
        """
        parts = []
        for prefix, attr in _REQUEST_HASH_PLAN:
            value = getattr(self, attr)
            parts.append(prefix + _json_string(value if value is None or isinstance(value, str) else str(value)))
        text = "{" + ",".join(parts) + "}"
        return keccak256(text.encode())


@dataclass(frozen=True)
class ChainHead:
    """The last recorded delta of one customer: its index, fingerprint and the running balance."""

    customer_index: int
    fingerprint: bytes
    running_total: int = 0


def _text_errors(name: str, value: str, limit: int) -> list[FieldError]:
    if not value.strip():
        return [FieldError(name, "must be a non-empty string")]
    if len(value) > limit:
        return [FieldError(name, f"must be at most {limit} characters, got {len(value)}")]
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return [FieldError(name, "must not contain control characters")]
    return []


# The identifier alphabet (customerId, referenceId): letters, marks, numbers, punctuation and symbols of any
# script, in NFC. Refused: control (Cc), format (Cf: bidi overrides and isolates, zero-width space, joiners,
# BOM), surrogate (Cs), private-use (Co) and unassigned (Cn) characters, and every separator (Zs spaces,
# Zl U+2028, Zp U+2029): two ids that look alike must be the same id.
_NOT_IN_IDENTIFIERS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def identifier_errors(name: str, value: str, limit: int) -> list[FieldError]:
    """Why ``value`` is not an identifier of at most ``limit`` characters (none: it is one). A non-NFC id is
    refused, not normalised, so the id that is signed is exactly the one that was sent."""
    if not value.strip():
        return [FieldError(name, "must be a non-empty string")]
    if len(value) > limit:
        return [FieldError(name, f"must be at most {limit} characters, got {len(value)}")]
    for char in value:
        if unicodedata.category(char) in _NOT_IN_IDENTIFIERS:
            return [
                FieldError(
                    name,
                    "must not contain control characters, format characters (bidi controls, zero-width), "
                    "separators (spaces, U+2028, U+2029), private-use or unassigned characters: found "
                    f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip(),
                )
            ]
    if not unicodedata.is_normalized("NFC", value):
        return [FieldError(name, "must be in Unicode normalization form C (NFC): send the composed form")]
    return []


def is_reserved_customer(customer_id: str) -> bool:
    """The node's own chains (``pacspace:…``, settlements): matched without regard to case or surrounding space."""
    return customer_id.strip().casefold().startswith(RESERVED_CUSTOMER_PREFIX)


def validate_delta_request(
    *,
    customer_id: str,
    delta: int,
    reason: str,
    reference_id: str,
    metadata: dict[str, Any] | None,
    corrects_receipt_id: str | None = None,
) -> DeltaRequest:
    """Check every rule; raises InvalidInput listing each failing field, or returns the request."""
    errors = [
        *identifier_errors("customerId", customer_id, MAX_CUSTOMER_ID),
        *(
            [FieldError("customerId", f"ids starting with {RESERVED_CUSTOMER_PREFIX!r} (any case) are reserved")]
            if is_reserved_customer(customer_id)
            else []
        ),
        *_text_errors("reason", reason, MAX_REASON),
        *identifier_errors("referenceId", reference_id, MAX_REFERENCE_ID),
    ]
    if isinstance(delta, bool) or not isinstance(delta, int):
        errors.append(FieldError("delta", "must be an integer (minor units)"))
    elif delta == 0:
        errors.append(FieldError("delta", "must not be zero"))
    elif not INT256_MIN <= delta <= INT256_MAX:
        errors.append(FieldError("delta", "must fit in int256"))
    metadata_json: str | None = None
    if metadata is not None:
        try:
            metadata_json = canonicalize(metadata)
        except InvalidInput as exc:
            errors.extend(exc.errors)
        else:
            size = len(metadata_json.encode())
            if size > MAX_METADATA_BYTES:
                errors.append(FieldError("metadata", f"canonical form is {size} bytes; limit {MAX_METADATA_BYTES}"))
    if corrects_receipt_id is not None:
        errors.extend(identifier_errors("correctsReceiptId", corrects_receipt_id, MAX_REFERENCE_ID))
    if errors:
        raise InvalidInput("the delta is not valid", errors=errors)
    return DeltaRequest(customer_id, delta, reason, reference_id, metadata_json, corrects_receipt_id)


def build_delta(
    *,
    tenant: str,
    request: DeltaRequest,
    head: ChainHead | None,
    recorded_at: int,
    salt: bytes,
    corrects: bytes = ZERO32,
) -> Delta:
    """The next link of the customer's chain: index head+1 (or 0), linked to head's fingerprint."""
    return Delta(
        tenant=tenant,
        customer_id=request.customer_id,
        delta=request.delta,
        reason=request.reason,
        reference_id=request.reference_id,
        metadata_hash=compute_metadata_hash(request.metadata_json),
        customer_index=0 if head is None else head.customer_index + 1,
        prev_fingerprint=ZERO32 if head is None else head.fingerprint,
        recorded_at=recorded_at,
        salt=salt,
        corrects=corrects,
    )
