"""Canonical JSON for delta metadata (the RFC 8785 subset we accept) and its hash.

Metadata values may be objects, arrays, strings, booleans, null and integers within
±(2**53 - 1). Floats are refused: their canonical form (ECMAScript number formatting)
differs between languages, and amounts are integers in minor units anyway.
"""

from __future__ import annotations

import json
from typing import Any

from node.core.errors import FieldError, InvalidInput
from node.core.hashing import keccak256

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 16


def _utf16_key(key: str) -> bytes:
    # RFC 8785 orders object members by their UTF-16 code units, not by code points.
    return key.encode("utf-16-be")


def _check(value: Any, path: str, depth: int, errors: list[FieldError]) -> None:
    if depth > MAX_DEPTH:
        errors.append(FieldError(path, f"nested deeper than {MAX_DEPTH} levels"))
        return
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            errors.append(FieldError(path, "integer beyond ±(2^53-1); send it as a string"))
        return
    if isinstance(value, float):
        errors.append(FieldError(path, "floats are not allowed; use an integer or a string"))
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", depth + 1, errors)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append(FieldError(path, "object keys must be strings"))
                continue
            _check(item, f"{path}.{key}", depth + 1, errors)
        return
    errors.append(FieldError(path, f"unsupported type {type(value).__name__}"))


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        return "{" + ",".join(f"{_encode(k)}:{_encode(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    # json.dumps gives RFC 8785 forms for strings (short escapes, \u00xx lowercase,
    # everything else literal with ensure_ascii=False), integers, booleans and null.
    return json.dumps(value, ensure_ascii=False)


def canonicalize(value: Any, *, field: str = "metadata") -> str:
    """Return the canonical JSON text of ``value``. Raises InvalidInput naming each bad path."""
    errors: list[FieldError] = []
    _check(value, field, 0, errors)
    if errors:
        raise InvalidInput(f"{field} is not canonicalisable", errors=errors)
    return _encode(value)


def compute_metadata_hash(canonical_text: str | None) -> bytes:
    """keccak256 of the canonical UTF-8 text; 32 zero bytes when there is no metadata."""
    if canonical_text is None:
        return b"\x00" * 32
    return keccak256(canonical_text.encode("utf-8"))
