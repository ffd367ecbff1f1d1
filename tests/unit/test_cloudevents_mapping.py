"""node.core.cloudevents: reading CloudEvents in each mode and mapping them to deltas, with no node."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from node.core.cloudevents import (
    BATCH,
    STRUCTURED,
    EventMapping,
    IngestRules,
    check_mapping,
    event_request,
    parse_body,
)
from node.core.errors import InvalidInput, MalformedJson, UnsupportedMediaType

DEFAULT = IngestRules()


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt_1",
        "source": "gateway",
        "type": "api_usage",
        "subject": "cust_1",
        "data": {"delta": -1000, "endpoint": "/v1/search"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_default_mapping() -> None:
    request = event_request(event(), DEFAULT)
    assert (request.customer_id, request.delta, request.reason, request.reference_id) == (
        "cust_1",
        -1000,
        "api_usage",
        "gateway#evt_1",
    )
    assert request.metadata_json == '{"endpoint":"/v1/search"}'
    with_reason = event_request(event(data={"delta": 5, "reason": "refund"}), DEFAULT)
    assert (with_reason.reason, with_reason.metadata_json) == ("refund", None)


def test_the_bare_id_is_the_reference_when_the_tenant_says_so() -> None:
    assert event_request(event(), IngestRules(reference_mode="id")).reference_id == "evt_1"


def test_a_reference_over_the_limit_is_refused_naming_the_id_and_the_fix() -> None:
    with pytest.raises(InvalidInput) as exc:
        event_request(event(source="s" * 100, id="i" * 40), DEFAULT)
    assert fields(exc) == ["id"] and "referenceIdMode" in exc.value.errors[0].message
    assert (
        event_request(event(source="s" * 100, id="i" * 40), IngestRules(reference_mode="id")).reference_id == "i" * 40
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": None}, "id"),
        ({"source": ""}, "source"),
        ({"type": 7}, "type"),
        ({"subject": None}, "subject"),
        ({"data": {"tokens": 5}}, "data.delta"),
        ({"data": {"delta": 1.5}}, "data.delta"),
        ({"data": {"delta": "-1000"}}, "data.delta"),
        ({"data": {"delta": True}}, "data.delta"),
        ({"data": {"delta": 0}}, "data.delta"),
        ({"data": "text"}, "data"),
        ({"data": {"delta": 1, "reason": 5}}, "data.reason"),
        ({"subject": "pacspace:settlements:x"}, "subject"),
        ({"subject": "bad\u0007id"}, "subject"),
        ({"datacontenttype": "text/plain"}, "datacontenttype"),
        ({"data_base64": "AAAA"}, "data_base64"),
    ],
)
def test_an_event_that_maps_to_no_valid_delta_is_refused_naming_why(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        event_request(event(**changes), DEFAULT)
    assert field in fields(exc), exc.value.errors


def test_a_tenant_mapping_multiplies_the_quantity_and_fills_the_reason() -> None:
    mapping = check_mapping("llm.tokens", "usage.tokens", "-0.5", "{quantity} {data.model} tokens for {subject}")
    rules = IngestRules(mappings={"llm.tokens": mapping})
    request = event_request(event(type="llm.tokens", data={"usage": {"tokens": 1250}, "model": "gpt-4"}), rules)
    assert (request.delta, request.reason) == (-625, "1250 gpt-4 tokens for cust_1")
    assert json.loads(request.metadata_json or "") == {"model": "gpt-4", "usage": {"tokens": 1250}}
    as_text = event_request(event(type="llm.tokens", data={"usage": {"tokens": "4.0"}, "model": "m"}), rules)
    assert as_text.delta == -2  # a decimal string counts; 4.0 x -0.5 is whole


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"model": "m"}, "is missing"),
        ({"usage": {"tokens": "many"}}, "must be a number"),
        ({"usage": {"tokens": 3}}, "not a whole number"),
        ({"usage": {"tokens": 0}}, "maps to no delta"),
    ],
)
def test_a_mapped_event_without_a_whole_quantity_is_refused(data: dict[str, Any], why: str) -> None:
    rules = IngestRules(mappings={"llm.tokens": EventMapping("llm.tokens", "usage.tokens", Decimal("-0.5"))})
    with pytest.raises(InvalidInput) as exc:
        event_request(event(type="llm.tokens", data=data), rules)
    assert fields(exc) == ["data.usage.tokens"] and why in exc.value.errors[0].message


def test_metadata_keeps_numbers_that_are_not_safe_integers_as_their_text() -> None:
    events, _ = parse_body(json.dumps(event(data={"delta": 1, "latency": 12.5, "big": 2**60})).encode(), STRUCTURED, {})
    assert event_request(events[0], DEFAULT).metadata_json == '{"big":"1152921504606846976","latency":"12.5"}'


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("t", "tokens", "0", None), "multiplier"),
        (("t", "tokens", "1e3", None), "multiplier"),
        (("t", "to kens", "1", None), "quantityField"),
        (("t", "tokens", "1", "{unknown}"), "reasonTemplate"),
        (("", "tokens", "1", None), "type"),
    ],
)
def test_bad_mappings_are_refused(args: tuple[str, str, str, str | None], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_mapping(*args)
    assert fields(exc) == [field]


def test_reading_the_three_modes() -> None:
    one = json.dumps(event()).encode()
    assert parse_body(one, STRUCTURED, {}) == ([event()], False)
    assert parse_body(b"[" + one + b"," + one + b"]", BATCH, {}) == ([event(), event()], True)
    assert parse_body(b"[" + one + b"]", "application/json", {}) == ([event()], True)
    headers = {"ce-specversion": "1.0", "ce-id": "a%20b", "ce-source": "s", "ce-type": "t", "ce-subject": "c"}
    (binary,), batch = parse_body(b'{"delta": 3}', "application/json", headers)
    assert not batch and binary == {
        "specversion": "1.0",
        "id": "a b",
        "source": "s",
        "type": "t",
        "subject": "c",
        "data": {"delta": 3},
    }
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"3", "text/plain", headers)
    with pytest.raises(InvalidInput) as repeated:  # the 422 every JSON body gets for a repeated key
        parse_body(b'{"id": 1, "id": 2}', STRUCTURED, {})
    assert [e.field for e in repeated.value.errors] == ["id"]
    with pytest.raises(MalformedJson):
        parse_body(b'{"id": 1', STRUCTURED, {})
    with pytest.raises(InvalidInput):
        parse_body(one, BATCH, {})


def test_the_readme_examples_map_as_the_readme_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    body = re.search(r"-d '(\{\"quantityField\".*?\})'", readme)
    assert body, "the README's mapping example"
    mapping = json.loads(body.group(1))
    assert 'records delta -2500, reason "1250 gpt-4 tokens"' in readme
    rules = IngestRules(
        mappings={
            "llm.tokens": check_mapping(
                "llm.tokens", mapping["quantityField"], mapping["multiplier"], mapping["reasonTemplate"]
            )
        }
    )
    tokens = event(type="llm.tokens", subject="cust_12345", data={"model": "gpt-4", "usage": {"tokens": 1250}})
    request = event_request(tokens, rules)
    assert (request.delta, request.reason) == (-2500, "1250 gpt-4 tokens")
    default = re.search(r"-d '(\{\"specversion\".*?\})'", readme, re.DOTALL)
    assert default, "the README's event example"
    example = event_request(json.loads(default.group(1)), DEFAULT)
    assert (example.reference_id, example.delta, example.reason) == ("billing-gateway#evt_5f2b", -1000, "api_usage")


def test_data_nested_beyond_any_metadata_is_a_422_not_a_crash() -> None:
    deep: Any = {"delta": 1}
    for _ in range(900):
        deep = {"x": deep}
    deep["delta"] = 5
    events, _ = parse_body(json.dumps(event(data=deep)).encode(), STRUCTURED, {})
    with pytest.raises(InvalidInput) as exc:
        event_request(events[0], DEFAULT)
    assert fields(exc) == ["data"]
    mapping = IngestRules(mappings={"t": EventMapping("t", "delta", Decimal(1), "{data.x}")})
    with pytest.raises(InvalidInput):
        event_request(events[0] | {"type": "t"}, mapping)
