"""The anchoring job's calldata, encoded by hand (node.chain.abi.encode_call), is byte for byte web3's."""

from __future__ import annotations

import pytest
from web3 import Web3

from node.chain.abi import ANCHOR_ABI, encode_call

CONTRACT = Web3().eth.contract(abi=ANCHOR_ABI)
UINT64_MAX, UINT32_MAX = 2**64 - 1, 2**32 - 1


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("nextIndex", ()),
        ("batchCommitment", (0,)),
        ("batchCommitment", (UINT64_MAX,)),
        ("anchor", (0, 1, bytes(range(32)))),
        ("anchor", (UINT64_MAX, UINT32_MAX, b"\xff" * 32)),
        ("anchor", (1_000_000, 10_000, bytes(31) + b"\x01")),
    ],
)
def test_calldata_is_what_web3_encodes(name: str, args: tuple[int | bytes, ...]) -> None:
    assert encode_call(name, *args) == bytes.fromhex(CONTRACT.encode_abi(name, args=list(args))[2:])


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("batchCommitment", (UINT64_MAX + 1,), "does not fit uint64"),
        ("batchCommitment", (-1,), "does not fit uint64"),
        ("anchor", (0, UINT32_MAX + 1, bytes(32)), "does not fit uint32"),
        ("anchor", (0, True, bytes(32)), "is not a uint32 value"),
        ("anchor", (0, 1, bytes(31)), "is not a bytes32 value"),
        ("anchor", (0, 1, "00" * 32), "is not a bytes32 value"),
        ("anchor", (0, 1), "takes 3 arguments, not 2"),
        ("isAnchorer", (b"\x01" * 20,), "takes uints and bytes32"),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_refused_not_truncated(
    name: str, args: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_call(name, *args)  # type: ignore[arg-type]
