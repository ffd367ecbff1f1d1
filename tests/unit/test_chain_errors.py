"""Revert data decoded through the ABI's error entries, built by hand for every custom error of both
contract versions (contracts/src/v1/PacSpaceAnchorV1.sol and contracts/src/PacSpaceAnchor.sol)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode

from node.chain.errors import ChainReverted
from node.chain.reverts import DecodedRevert, decode_revert
from node.core.hashing import keccak256

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

# (name, [(input name, type)], values) as the Solidity sources declare them.
V1_ERRORS: list[tuple[str, list[tuple[str, str]], list[Any]]] = [
    ("PacSpaceAnchorUnauthorizedAnchorer", [("account", "address")], [ALICE]),
    ("PacSpaceAnchorNonContiguousStart", [("expected", "uint64"), ("provided", "uint64")], [5, 7]),
    ("PacSpaceAnchorEmptyBatch", [], []),
    ("PacSpaceAnchorZeroRoot", [], []),
    ("PacSpaceAnchorZeroAddress", [], []),
    ("OwnableUnauthorizedAccount", [("account", "address")], [ALICE]),
    ("OwnableInvalidOwner", [("owner", "address")], ["0x0000000000000000000000000000000000000000"]),
]
V2_ERRORS = [
    *V1_ERRORS,
    ("PacSpaceAnchorSignerExists", [("signer", "address")], [ALICE]),
    ("PacSpaceAnchorSignerNotActive", [("signer", "address")], [ALICE]),
]


def _revert_data(name: str, inputs: list[tuple[str, str]], values: list[Any]) -> bytes:
    types = [t for _n, t in inputs]
    return keccak256(f"{name}({','.join(types)})".encode())[:4] + encode(types, values)


@pytest.mark.parametrize(
    ("name", "inputs", "values"),
    [pytest.param(*e, id=f"v1-{e[0]}") for e in V1_ERRORS] + [pytest.param(*e, id=f"v2-{e[0]}") for e in V2_ERRORS],
)
def test_every_custom_error_decodes_to_its_name_and_arguments(
    name: str, inputs: list[tuple[str, str]], values: list[Any]
) -> None:
    decoded = decode_revert(_revert_data(name, inputs, values))
    assert decoded == DecodedRevert(name, {n: v for (n, _t), v in zip(inputs, values, strict=True)})


def test_the_decoded_form_names_each_argument() -> None:
    data = _revert_data("PacSpaceAnchorNonContiguousStart", [("e", "uint64"), ("p", "uint64")], [5, 7])
    assert str(decode_revert(data)) == "PacSpaceAnchorNonContiguousStart(expected=5, provided=7)"
    refused = ChainReverted.from_data(data)
    assert refused.name == "PacSpaceAnchorNonContiguousStart" and refused.arguments == {"expected": 5, "provided": 7}
    assert refused.detail == "the contract reverted: PacSpaceAnchorNonContiguousStart(expected=5, provided=7)"
    owner = _revert_data("OwnableUnauthorizedAccount", [("a", "address")], [ALICE.lower()])
    assert str(decode_revert(owner)) == f"OwnableUnauthorizedAccount(account={ALICE})"  # checksummed


def test_solidity_built_in_errors_decode() -> None:
    assert decode_revert(_revert_data("Error", [("r", "string")], ["no"])) == DecodedRevert("Error", {"reason": "no"})
    assert decode_revert(_revert_data("Panic", [("c", "uint256")], [0x11])) == DecodedRevert("Panic", {"code": 0x11})


def test_unknown_or_malformed_data_does_not_decode_and_is_shown_raw() -> None:
    unknown = keccak256(b"SomethingElse(uint256)")[:4] + encode(["uint256"], [1])
    truncated = _revert_data("PacSpaceAnchorNonContiguousStart", [("e", "uint64"), ("p", "uint64")], [5, 7])[:40]
    for data in (unknown, truncated, b"\x01\x02"):
        assert decode_revert(data) is None
        refused = ChainReverted.from_data(data)
        assert refused.revert is None and refused.name is None and refused.arguments == {}
        assert refused.detail == f"the contract reverted: 0x{data.hex()}"
    # No data at all (a call to a function the contract does not have): the RPC's words.
    assert ChainReverted.from_data(b"", "execution reverted").detail == "the contract reverted: execution reverted"
