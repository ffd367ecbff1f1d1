"""Reading JSON text with each member name at most once in every object (pure).

``{"delta": -1, "delta": -100000}`` is ambiguous: a proxy, a log or an audit tool that keeps the first
``delta`` disagrees with a parser that keeps the last. Every JSON body the node reads (the /v1 routes,
the streamed compare body, CloudEvents) goes through ``unique_members``, so a repeated key is one
refusal everywhere: ``DuplicateKey``, which the callers answer with 422 naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from node.core.errors import FieldError, InvalidInput


class DuplicateKey(ValueError):
    """A member name that appears twice in one object (``key``)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r} in the JSON body")
        self.key = key

    def invalid_input(self) -> InvalidInput:
        """The 422 the API answers for it."""
        return InvalidInput(str(self), errors=[FieldError(self.key, "duplicate key: each member may appear once")])


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for the json module: the object, or DuplicateKey. The common case (no
    repeat) costs one dict and a length comparison inside the C decoder."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


def refuse_constant(name: str) -> Any:
    """``parse_constant`` that refuses ``NaN`` and ``Infinity``, which are not JSON (RFC 8259)."""
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def loads_unique(text: bytes | str, *, parse_float: Callable[[str], Any] | None = None, constants: bool = True) -> Any:
    """``json.loads`` refusing a repeated member name (DuplicateKey), and ``NaN``/``Infinity`` unless
    ``constants``; other errors as ``json.loads`` raises them (ValueError)."""
    return json.loads(
        text,
        object_pairs_hook=unique_members,
        parse_float=parse_float,
        parse_constant=None if constants else refuse_constant,
    )


def strict_decoder() -> json.JSONDecoder:
    """A decoder for ``raw_decode`` over a stream: unique member names, no NaN or Infinity."""
    return json.JSONDecoder(object_pairs_hook=unique_members, parse_constant=refuse_constant)
