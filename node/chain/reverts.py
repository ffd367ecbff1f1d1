"""Contract reverts decoded through the ABI: ``PacSpaceAnchorNonContiguousStart(expected=5, provided=7)``
instead of ``0x3c1b…``.

The table maps each ``error`` entry's selector (the first four bytes of the keccak of its signature)
to its name and inputs; revert data is that selector followed by the ABI-encoded arguments. The
entries come from the node's ABI (node/chain/abi.py, checked against the forge output of both
contract versions), plus Solidity's two built-in errors ``Error(string)`` and ``Panic(uint256)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from web3 import Web3

from node.chain.abi import ANCHOR_ABI
from node.core.hashing import keccak256

_BUILT_IN: list[dict[str, Any]] = [
    {"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
]


@dataclass(frozen=True)
class ErrorSpec:
    """One ``error`` entry of an ABI: its name and its inputs as (name, type)."""

    name: str
    inputs: tuple[tuple[str, str], ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(t for _n, t in self.inputs)})"

    @property
    def selector(self) -> bytes:
        return keccak256(self.signature.encode())[:4]


@dataclass(frozen=True)
class DecodedRevert:
    """A custom error the contract reverted with, and its arguments by name."""

    name: str
    arguments: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.arguments.items())})"


def error_table(abi: Iterable[dict[str, Any]]) -> dict[bytes, ErrorSpec]:
    """selector -> error, for every ``error`` entry of ``abi``."""
    specs = (
        ErrorSpec(str(e["name"]), tuple((str(i["name"]), str(i["type"])) for i in e["inputs"]))
        for e in abi
        if e.get("type") == "error"
    )
    return {spec.selector: spec for spec in specs}


ANCHOR_ERRORS: dict[bytes, ErrorSpec] = error_table([*ANCHOR_ABI, *_BUILT_IN])


def decode_revert(data: bytes, table: dict[bytes, ErrorSpec] = ANCHOR_ERRORS) -> DecodedRevert | None:
    """The error ``data`` encodes; None if its selector is unknown or its arguments do not decode."""
    spec = table.get(data[:4]) if len(data) >= 4 else None
    if spec is None:
        return None
    try:
        values = decode([t for _n, t in spec.inputs], data[4:])
    except (DecodingError, OverflowError, ValueError):
        return None
    named = zip(spec.inputs, values, strict=True)
    return DecodedRevert(spec.name, {n: Web3.to_checksum_address(v) if t == "address" else v for (n, t), v in named})
