"""The JSON body of ``POST /v1/balance/compare``, parsed as it is read from a file, in bounded memory.

The body is one object: ``theirDeltas`` (an array of ``{referenceId, delta}``), ``theirBalance``,
``asOf``, ``tolerance`` and, optionally, ``customerId`` (which must equal the query's). The array is
read one item at a time, never as a whole document: each item and every other member's value is
decoded on its own and may be at most ``MAX_VALUE_CHARS`` long, so a hostile body (one huge string,
a million nested arrays, endless whitespace) costs time linear in its length and memory bounded by
the item cap. Bad items are counted; only the first ``MAX_REPORTED`` are described.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from node.core.deltas import MAX_INDEX, MAX_REFERENCE_ID
from node.core.errors import FieldError, InvalidInput, InvalidItems, MalformedJson
from node.core.json_text import DuplicateKey, strict_decoder
from node.core.typed_data import INT256_MAX, INT256_MIN

MAX_VALUE_CHARS = 4096  # one item of theirDeltas, or any other member's value
MAX_REPORTED = 20  # item problems described in the answer; the rest are counted
YIELD_EVERY = 500  # items between two GIL releases (see pause)
_CHUNK = 1 << 16
_WS = re.compile(r"[ \t\n\r]*")


def pause() -> None:
    """Give the GIL away for a moment. Parsing and comparing run in a worker thread, but hold the GIL
    between bytecode switches; the event loop waiting for it would get it only at the next switch
    interval (5 ms). Releasing it every few hundred items lets the other requests through at once."""
    time.sleep(0)


_DECODER = strict_decoder()


class Problems:
    """Counts every problem, keeps the first ``MAX_REPORTED``."""

    def __init__(self) -> None:
        self.listed: list[FieldError] = []
        self.count = 0

    def add(self, field: str, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_REPORTED:
            self.listed.append(FieldError(field, message))

    def raise_if_any(self, what: str) -> None:
        if not self.count:
            return
        shown = f"; the first {len(self.listed)} are listed" if self.count > len(self.listed) else ""
        raise InvalidItems(f"{what}: {self.count} problem(s){shown}", errors=self.listed, error_count=self.count)


class _Text:
    """The decoded body with a cursor; at least 2 x MAX_VALUE_CHARS stay buffered after it (or the rest)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.base = 0  # characters dropped from the front of buf
        self.eof = False

    def fill(self) -> None:
        while not self.eof and len(self.buf) - self.pos < 2 * MAX_VALUE_CHARS:
            if self.pos >= _CHUNK:
                self.base += self.pos
                self.buf, self.pos = self.buf[self.pos :], 0
            chunk = self.raw.read(_CHUNK)
            try:
                self.buf += self.decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise MalformedJson(
                    "the body is not UTF-8", errors=[FieldError("body", f"not UTF-8 after character {self.where}")]
                ) from None
            self.eof = not chunk

    @property
    def where(self) -> int:
        return self.base + self.pos

    def peek(self) -> str:
        """The next character after whitespace ("" at the end)."""
        while True:
            match = _WS.match(self.buf, self.pos)
            assert match is not None
            self.pos = match.end()
            if self.pos < len(self.buf) or self.eof:
                break
            self.fill()
        self.fill()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def take(self, expected: str, what: str) -> None:
        if self.peek() != expected:
            raise self.malformed(f"expected {what}")
        self.pos += 1

    def malformed(self, why: str) -> MalformedJson:
        return MalformedJson(
            f"the body is not valid JSON: {why} at character {self.where}",
            errors=[FieldError("body", f"{why} at character {self.where}")],
        )

    def value(self) -> Any:
        self.peek()
        try:
            # Never more than one value's worth of text: the C decoder recurses once per nesting level,
            # so a bounded text bounds that depth too (a deep one is a RecursionError, not a crash).
            window = self.buf[self.pos : self.pos + MAX_VALUE_CHARS + 1]
            value, length = _DECODER.raw_decode(window)
            end = self.pos + length
        except DuplicateKey as exc:
            raise exc.invalid_input() from None
        except RecursionError:
            raise InvalidInput(
                f"a value at character {self.where} is nested too deeply",
                errors=[FieldError("body", f"nested too deeply at character {self.where}")],
            ) from None
        except (json.JSONDecodeError, ValueError) as exc:
            if len(window) > MAX_VALUE_CHARS:
                raise self.too_long() from None
            raise self.malformed(exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)) from None
        if end - self.pos > MAX_VALUE_CHARS:
            raise self.too_long()
        self.pos = end
        return value

    def too_long(self) -> InvalidInput:
        return InvalidInput(
            f"a value at character {self.where} is longer than {MAX_VALUE_CHARS} characters",
            errors=[FieldError("body", f"a value longer than {MAX_VALUE_CHARS} characters at character {self.where}")],
        )


@dataclass
class JsonFields:
    """The body's members once read and checked (``their_deltas`` None: not sent)."""

    their_deltas: list[tuple[str, int]] | None = None
    their_balance: int | None = None
    as_of_index: int | None = None
    as_of_recorded_at: int | None = None
    tolerance_absolute: int | None = None
    tolerance_basis_points: int | None = None


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is not an integer here


def _integer(problems: Problems, field: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not _is_int(value):
        problems.add(
            field, "must be an integer (JSON number without fraction; strings, floats and booleans are refused)"
        )
        return None
    if not low <= value <= high:
        problems.add(field, f"must be between {low} and {high}")
        return None
    return int(value)


def _item_problems(problems: Problems, index: int, item: Any) -> None:
    where = f"theirDeltas[{index}]"
    if not isinstance(item, dict):
        problems.add(where, "must be an object {referenceId, delta}")
        return
    for key in item.keys() - {"referenceId", "delta"}:
        problems.add(f"{where}.{key}", "unknown field")
    reference_id = item.get("referenceId")
    if not isinstance(reference_id, str) or not 1 <= len(reference_id) <= MAX_REFERENCE_ID:
        problems.add(f"{where}.referenceId", f"is required: a string of 1-{MAX_REFERENCE_ID} characters")
    if "delta" not in item:
        problems.add(f"{where}.delta", "is required")
    else:
        _integer(problems, f"{where}.delta", item["delta"], INT256_MIN, INT256_MAX)


def _their_deltas(text: _Text, problems: Problems, max_items: int) -> list[tuple[str, int]] | None:
    if text.peek() != "[":
        if text.value() is not None:
            problems.add("theirDeltas", "must be an array of {referenceId, delta} objects")
        return None
    text.pos += 1
    items: list[tuple[str, int]] = []
    if text.peek() == "]":
        text.pos += 1
        return items
    index = 0
    while True:
        if index >= max_items:
            raise InvalidInput(
                f"theirDeltas has more than {max_items} items",
                errors=[FieldError("theirDeltas", f"at most {max_items} items per comparison")],
            )
        item = text.value()
        ref = item.get("referenceId") if type(item) is dict and len(item) == 2 else None
        amount = item.get("delta") if ref is not None else None
        if type(ref) is str and type(amount) is int and 0 < len(ref) <= MAX_REFERENCE_ID:
            if INT256_MIN <= amount <= INT256_MAX:
                items.append((ref, amount))
            else:
                problems.add(f"theirDeltas[{index}].delta", f"must be between {INT256_MIN} and {INT256_MAX}")
        else:
            _item_problems(problems, index, item)
        index += 1
        if not index % YIELD_EVERY:
            pause()
        following = text.peek()
        text.pos += 1
        if following == "]":
            return items
        if following != ",":
            text.pos -= 1
            raise text.malformed("expected , or ] after an item of theirDeltas")


def _object(problems: Problems, field: str, value: Any, members: dict[str, Callable[[str, Any], None]]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.add(field, "must be an object")
        return
    for key, member in value.items():
        if key in members:
            members[key](f"{field}.{key}", member)
        else:
            problems.add(f"{field}.{key}", "unknown field")


def parse_json_body(raw: IO[bytes], *, customer_id: str, max_items: int) -> JsonFields:
    """Read and check the body; raises MalformedJson (400) or InvalidInput / InvalidItems (422)."""
    text = _Text(raw)
    if text.peek() == "":
        raise InvalidInput(
            "the body is empty", errors=[FieldError("body", "is empty: send theirBalance, theirDeltas or both")]
        )
    text.take("{", "a JSON object")
    problems = Problems()
    out = JsonFields()
    values: dict[str, Any] = {}
    while text.peek() != "}":
        if values:
            text.take(",", "a comma between members")
        key = text.value()
        if not isinstance(key, str):
            raise text.malformed("expected a member name")
        if key in values:
            raise DuplicateKey(key).invalid_input()
        text.take(":", "a colon after a member name")
        values[key] = None
        if key == "theirDeltas":
            out.their_deltas = _their_deltas(text, problems, max_items)
        else:
            values[key] = text.value()
    text.pos += 1
    if text.peek() != "":
        raise text.malformed("content after the JSON object")
    for key, value in values.items():
        if key == "customerId":
            if value is not None and value != customer_id:
                problems.add("customerId", "must equal the customerId query parameter (or be left out)")
        elif key == "theirBalance":
            out.their_balance = _integer(problems, key, value, INT256_MIN, INT256_MAX)
        elif key not in ("theirDeltas", "asOf", "tolerance"):
            problems.add(key, "unknown field")

    def set_int(attr: str, low: int, high: int) -> Callable[[str, Any], None]:
        return lambda field, value: setattr(out, attr, _integer(problems, field, value, low, high))

    _object(
        problems,
        "asOf",
        values.get("asOf"),
        {
            "customerIndex": set_int("as_of_index", 0, MAX_INDEX),
            "recordedAt": set_int("as_of_recorded_at", 0, MAX_INDEX),
        },
    )
    _object(
        problems,
        "tolerance",
        values.get("tolerance"),
        {
            "absolute": set_int("tolerance_absolute", 0, INT256_MAX),
            "basisPoints": set_int("tolerance_basis_points", 0, 10_000),
        },
    )
    problems.raise_if_any("the comparison request is not valid")
    return out
