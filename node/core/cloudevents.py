"""CloudEvents (v1.0) as deltas: reading an event in structured, batch or binary mode, and mapping it.

Pure: the caller passes the body bytes, the headers and the tenant's ``IngestRules``. The mapping ends in
``validate_delta_request``, the very rules ``POST /v1/balance/delta`` applies, so an event is a delta like
any other; its problems are named by the event's own fields (``subject``, ``id``, ``data.tokens``).

Default mapping: ``subject`` -> customerId; ``{source}#{id}`` -> referenceId (or the bare ``id``, per
tenant), so a retried event is the same delta; ``data.delta`` (a JSON integer) -> delta; ``data.reason``
(else ``type``) -> reason; the rest of ``data`` -> metadata. A tenant mapping for an event ``type`` names
the data field holding the quantity, a multiplier (credits per unit, with its sign) and a reason template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from node.core.deltas import MAX_REASON, MAX_REFERENCE_ID, DeltaRequest, validate_delta_request
from node.core.errors import FieldError, InvalidInput, MalformedJson, UnsupportedMediaType
from node.core.json_text import DuplicateKey, loads_unique

SPEC_VERSION = "1.0"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REFERENCE_MODES = ("source#id", "id")
# Media types the ingest paths take besides application/json (binary-mode data, or either shape); "" for
# binary mode without a Content-Type, which the CloudEvents SDKs send when datacontenttype is not set.
CLOUDEVENT_TYPES = frozenset({STRUCTURED, BATCH, ""})
MAX_SAFE = 2**53 - 1
MAX_DATA_DEPTH = 32
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*")
_ATTRIBUTE = re.compile(r"[a-z0-9]{1,20}")  # CloudEvents attribute names
_TEMPLATE_NAMES = ("type", "subject", "source", "id", "quantity")


@dataclass(frozen=True)
class EventMapping:
    """How events of one ``type`` become deltas: ``delta = data.<quantity_field> × multiplier``."""

    event_type: str
    quantity_field: str
    multiplier: Decimal
    reason_template: str | None = None


@dataclass(frozen=True)
class IngestRules:
    """A tenant's ingest settings: the referenceId form and its mappings by event type."""

    reference_mode: str = "source#id"
    mappings: dict[str, EventMapping] = field(default_factory=dict)


def parse_body(body: bytes, content_type: str, headers: dict[str, str]) -> tuple[list[Any], bool]:
    """The events of a request and whether it was a batch. ``headers``: lowercase names (binary mode)."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    binary = "ce-specversion" in headers
    try:
        # Decimal keeps a fractional quantity exact (0.1 x 10 is 1, not 1.0000000000000002).
        value = loads_unique(body, parse_float=Decimal, constants=False) if body else None
    except DuplicateKey as exc:
        raise exc.invalid_input() from None
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"the body is not JSON: {exc}") from None
    if binary:
        if media not in ("application/json", "") and not media.endswith("+json"):
            raise UnsupportedMediaType(f"binary-mode data must be JSON to be mapped to a delta, got {media!r}")
        # Binary-mode header values are percent-encoded (the CloudEvents HTTP binding).
        event: dict[str, Any] = {
            name[3:]: unquote(text)
            for name, text in headers.items()
            if name.startswith("ce-") and _ATTRIBUTE.fullmatch(name[3:])
        }
        event["data"] = value
        return [event], False
    if media == BATCH or (media == "application/json" and isinstance(value, list)):
        if not isinstance(value, list):
            raise InvalidInput("a batch is a JSON array of events", errors=[FieldError("body", "must be a JSON array")])
        return value, True
    if not isinstance(value, dict):
        raise InvalidInput(
            "an event is a JSON object", errors=[FieldError("body", "must be a JSON object (structured mode)")]
        )
    return [value], False


def _text(event: dict[str, Any], name: str, errors: list[FieldError], required: bool = True) -> str | None:
    value = event.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "is required"))
        return None
    if not isinstance(value, str) or not value:
        errors.append(FieldError(name, "must be a non-empty string"))
        return None
    return value


def _plain(value: Any, depth: int = 0) -> Any:
    """Data as metadata, which is signed as canonical JSON of integers: other numbers keep their text."""
    if depth > MAX_DATA_DEPTH:  # metadata allows 16 levels; stop well before the interpreter's own limit
        raise InvalidInput("the event's data is nested too deeply", errors=[FieldError("data", "nested too deeply")])
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    return value


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str) and re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", value.strip()):
        return Decimal(value.strip())
    return None


def render_reason(template: str, event: dict[str, Any], quantity: Decimal | None) -> str:
    """``{type}``, ``{subject}``, ``{source}``, ``{id}``, ``{quantity}`` and ``{data.<path>}`` filled in."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "quantity":
            return "" if quantity is None else format(quantity, "f")
        if name.startswith("data."):
            found, value = _lookup(event.get("data"), name[5:])
            if not found:
                raise InvalidInput(
                    "the reason template names a data field the event lacks",
                    errors=[FieldError(name, "is missing (the mapping's reasonTemplate uses it)")],
                )
            return value if isinstance(value, str) else json.dumps(_plain(value), ensure_ascii=False)
        return str(event.get(name) or "")

    return _PLACEHOLDER.sub(fill, template)


def check_template(template: str) -> list[FieldError]:
    """Problems of a reason template at mapping time (an unknown placeholder, an empty result)."""
    errors = []
    for name in _PLACEHOLDER.findall(template):
        if name not in _TEMPLATE_NAMES and not (name.startswith("data.") and _FIELD_PATH.fullmatch(name[5:])):
            errors.append(
                FieldError(
                    "reasonTemplate",
                    f"unknown placeholder {{{name}}}; use {{type}}, {{subject}}, "
                    "{source}, {id}, {quantity} or {data.<field>}",
                )
            )
    if not template.strip() or len(template) > MAX_REASON:
        errors.append(FieldError("reasonTemplate", f"must be 1-{MAX_REASON} characters"))
    return errors


def check_mapping(event_type: str, quantity_field: str, multiplier: str, template: str | None) -> EventMapping:
    """A mapping from its API fields; raises InvalidInput naming each bad one."""
    errors: list[FieldError] = []
    if not event_type.strip() or len(event_type) > 256:
        errors.append(FieldError("type", "must be 1-256 characters"))
    if not _FIELD_PATH.fullmatch(quantity_field) or len(quantity_field) > 256:
        errors.append(
            FieldError("quantityField", "must be a field name of data, dotted for nested ones (tokens, usage.input)")
        )
    value: Decimal | None = None
    try:
        value = Decimal(multiplier) if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", multiplier) else None
    except InvalidOperation:
        value = None
    if value is None or value == 0 or len(multiplier) > 80:
        errors.append(
            FieldError(
                "multiplier", 'must be a non-zero decimal string, e.g. "-1" or "0.5" (credits per unit, sign included)'
            )
        )
    if template is not None:
        errors.extend(check_template(template))
    if errors:
        raise InvalidInput("the mapping is not valid", errors=errors)
    assert value is not None
    return EventMapping(event_type, quantity_field, value, template)


def _attributes(event: dict[str, Any]) -> tuple[str, str, str, str]:
    """id, source, type, subject of a CloudEvent; raises InvalidInput naming each bad attribute."""
    errors: list[FieldError] = []
    if event.get("specversion") != SPEC_VERSION:
        errors.append(
            FieldError("specversion", f'must be "{SPEC_VERSION}", got {json.dumps(event.get("specversion"))}')
        )
    event_id, source, event_type = (_text(event, name, errors) for name in ("id", "source", "type"))
    subject = _text(event, "subject", errors, required=False)
    if subject is None and "subject" not in event:
        errors.append(FieldError("subject", "is required: it names the customer (customerId)"))
    content = event.get("datacontenttype")
    if content is not None and (
        not isinstance(content, str)
        or not (content.split(";")[0].strip().lower() in ("application/json", "text/json") or content.endswith("+json"))
    ):
        errors.append(FieldError("datacontenttype", "must be application/json: only JSON data maps to a delta"))
    if "data_base64" in event:
        errors.append(FieldError("data_base64", "binary data cannot be mapped to a delta; send JSON data"))
    if errors or event_id is None or source is None or event_type is None or subject is None:
        raise InvalidInput("the event is not a valid CloudEvent for the node", errors=errors)
    return event_id, source, event_type, subject


def _default_delta(data: Any, event_type: str) -> tuple[Any, str, dict[str, Any] | None]:
    if not isinstance(data, dict):
        raise InvalidInput(
            "the event maps to no delta",
            errors=[
                FieldError(
                    "data", f"must be a JSON object with an integer delta (or add a mapping for type {event_type!r})"
                )
            ],
        )
    if "delta" not in data:
        raise InvalidInput(
            "the event maps to no delta",
            errors=[
                FieldError(
                    "data.delta", f"is missing: type {event_type!r} has no mapping, and the default takes data.delta"
                )
            ],
        )
    delta = data["delta"]
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidInput(
            "the event maps to no delta", errors=[FieldError("data.delta", "must be a JSON integer (minor units)")]
        )
    reason = data.get("reason", event_type)
    if not isinstance(reason, str):
        raise InvalidInput("the event's reason is not text", errors=[FieldError("data.reason", "must be a string")])
    rest = {k: _plain(v) for k, v in data.items() if k not in ("delta", "reason")}
    return delta, reason, rest or None


def _mapped_delta(event: dict[str, Any], mapping: EventMapping) -> tuple[int, str, dict[str, Any] | None]:
    where = f"data.{mapping.quantity_field}"
    data = event.get("data")
    found, raw = _lookup(data, mapping.quantity_field)
    if not found:
        why = f"is missing: the mapping for type {mapping.event_type!r} reads the quantity there"
        raise InvalidInput("the event maps to no delta", errors=[FieldError(where, why)])
    quantity = _quantity(raw)
    if quantity is None:
        raise InvalidInput(
            "the event maps to no delta", errors=[FieldError(where, "must be a number (or a decimal string)")]
        )
    product = quantity * mapping.multiplier
    if product != product.to_integral_value():
        why = f"{quantity} × multiplier {mapping.multiplier} = {product}, not a whole number of credits"
        raise InvalidInput("the event maps to no delta", errors=[FieldError(where, why)])
    if product == 0:
        why = f"is {quantity}: × multiplier {mapping.multiplier} it maps to no delta (0)"
        raise InvalidInput("the event maps to no delta", errors=[FieldError(where, why)])
    reason = render_reason(mapping.reason_template or "{type}", event, quantity)
    metadata = _plain(data) if isinstance(data, dict) and data else None
    return int(product), reason, metadata


def event_request(event: Any, rules: IngestRules) -> DeltaRequest:
    """The delta an event stands for, by the tenant's rules; raises InvalidInput naming the event's fields."""
    if not isinstance(event, dict):
        raise InvalidInput("an event is a JSON object", errors=[FieldError("event", "must be a JSON object")])
    event_id, source, event_type, subject = _attributes(event)
    reference = f"{source}#{event_id}" if rules.reference_mode == "source#id" else event_id
    if len(reference) > MAX_REFERENCE_ID:
        why = (
            f"the referenceId {rules.reference_mode} is {len(reference)} characters, the limit is {MAX_REFERENCE_ID}: "
            'shorten source or id, or set the tenant\'s referenceIdMode to "id"'
        )
        raise InvalidInput("the event's referenceId is too long", errors=[FieldError("id", why)])
    mapping = rules.mappings.get(event_type)
    if mapping is None:
        delta, reason, metadata = _default_delta(event.get("data"), event_type)
        delta_field, reason_field = (
            "data.delta",
            "data.reason" if isinstance(event.get("data"), dict) and "reason" in event["data"] else "type",
        )
    else:
        delta, reason, metadata = _mapped_delta(event, mapping)
        delta_field, reason_field = f"data.{mapping.quantity_field}", "reasonTemplate"
    renames = {"customerId": "subject", "referenceId": "id", "delta": delta_field, "reason": reason_field}
    try:
        return validate_delta_request(
            customer_id=subject, delta=delta, reason=reason, reference_id=reference, metadata=metadata
        )
    except InvalidInput as exc:
        errors = [
            FieldError(
                "data" + e.field[len("metadata") :]
                if e.field.startswith("metadata")
                else renames.get(e.field, e.field),
                e.message,
            )
            for e in exc.errors
        ]
        raise InvalidInput("the event is not a valid delta", errors=errors) from None
