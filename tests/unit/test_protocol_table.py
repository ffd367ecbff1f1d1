"""The protocol version table: what each version fixes, and that everything is derived from its field table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from node.core.deltas import DeltaRequest
from node.core.protocol import LATEST, PROTOCOL_V1, PROTOCOL_V2, PROTOCOLS, protocol, protocol_for_contract
from node.core.typed_data import Delta, Domain, build_typed_data

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
V1_DELTA_TYPE = (
    "Delta(string tenant,string customerId,int256 delta,string reason,string referenceId,"
    "bytes32 metadataHash,uint64 customerIndex,bytes32 prevFingerprint,bytes32 corrects,"
    "uint64 recordedAt,bytes32 salt)"
)


def test_version_1_is_what_receipts_were_first_issued_under() -> None:
    # Receipts already issued hash with exactly these strings: they may never change.
    assert PROTOCOL_V1.delta_type == V1_DELTA_TYPE
    assert PROTOCOL_V1.domain_version == "1"
    assert PROTOCOL_V1.bundle_version == "pacspace.proof.v1"
    assert PROTOCOL_V1.media_type == "application/vnd.pacspace.proof.v1+json"
    assert PROTOCOL_V1.token_version == 0x01
    assert PROTOCOL_V1.delta_typehash.hex() == "3ccd784ddacd35cd5b807d2e3384e435d3afa67962b9b5ae9aa5e321277633b5"


def test_every_version_has_its_own_domain_bundle_and_token_version() -> None:
    for attribute in ("domain_version", "bundle_version", "token_version", "media_type"):
        values = [getattr(p, attribute) for p in PROTOCOLS.values()]
        assert len(set(values)) == len(values), attribute
    assert LATEST is PROTOCOL_V2 and PROTOCOL_V2.domain_version == "2"


def test_the_contract_version_picks_the_protocol_a_node_issues() -> None:
    assert protocol_for_contract(1) is PROTOCOL_V1
    assert protocol_for_contract(2) is PROTOCOL_V2
    with pytest.raises(KeyError, match="contract version 3"):
        protocol_for_contract(3)
    with pytest.raises(KeyError, match="known: \\[1, 2\\]"):
        protocol(9)


@pytest.mark.parametrize("entry", list(PROTOCOLS.values()), ids=lambda p: f"v{p.number}")
def test_type_string_message_and_types_come_from_one_field_table(entry: object) -> None:
    assert isinstance(entry, type(PROTOCOL_V1))
    delta_attrs = {f.name for f in dataclasses.fields(Delta)}
    names = [f.name for f in entry.delta_fields]
    assert {f.attr for f in entry.delta_fields} == delta_attrs, "every Delta attribute is signed, and only those"
    assert re.fullmatch(r"Delta\((.*)\)", entry.delta_type).group(1).split(",") == [  # type: ignore[union-attr]
        f"{f.type} {f.name}" for f in entry.delta_fields
    ]
    assert [m["name"] for m in entry.eip712_types["Delta"]] == names
    domain = Domain(31337, bytes(20), entry)
    delta = Delta("t", "c", -5, "r", "ref", bytes(32), 0, bytes(32), 1, bytes(32))
    typed = build_typed_data(domain, delta)
    assert list(typed["message"]) == names
    assert typed["domain"]["version"] == entry.domain_version


def test_the_request_hash_covers_every_client_supplied_field() -> None:
    request_fields = {f.name for f in dataclasses.fields(DeltaRequest)}
    mapped = {f.request_attr for f in LATEST.delta_fields if f.request_attr is not None}
    assert mapped == request_fields, "a request field missing here would let a retry change it unnoticed"
    base = DeltaRequest("cust", 5, "usage", "ref", '{"a":1}', "rcpt_x")
    for name in request_fields:
        value = getattr(base, name)
        change: dict[str, Any] = {name: value + 1 if isinstance(value, int) else f"{value}x"}  # int or str, by field
        changed = dataclasses.replace(base, **change)
        assert changed.request_hash != base.request_hash, name


def test_the_protocol_document_lists_every_version_s_type_string() -> None:
    text = PROTOCOL_DOC.read_text()
    for entry in PROTOCOLS.values():
        assert entry.delta_type in text
        assert entry.bundle_version in text
