"""The part of the PacSpaceAnchor ABI the node calls.

Kept in the package so a running node needs no build output; tests/integration/test_contract_abi.py
checks every entry against the ABI that forge compiles from contracts/src. The entries in
``V2_ONLY`` exist in contract v2 (PacSpaceAnchor) only: on a v1 contract (PacSpaceAnchorV1) a call
to them reverts, which is how a caller tells the versions apart (``protocolVersion``).
"""

from __future__ import annotations

from typing import Any

from node.core.hashing import keccak256


def _fn(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "inputs": [{"name": n, "type": t, "internalType": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t, "internalType": t} for t in outputs],
        "stateMutability": mutability,
    }


def _error(name: str, inputs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "error", "name": name, "inputs": [{"name": n, "type": t, "internalType": t} for n, t in inputs]}


ANCHOR_ABI: list[dict[str, Any]] = [
    _fn("anchor", [("startIndex", "uint64"), ("count", "uint32"), ("root", "bytes32")], ["uint64"], "nonpayable"),
    _fn("isAnchorer", [("account", "address")], ["bool"], "view"),
    _fn("nextIndex", [], ["uint64"], "view"),
    _fn("batchCount", [], ["uint64"], "view"),
    _fn("batchCommitment", [("startIndex", "uint64")], ["bytes32"], "view"),
    _fn("isAnchored", [("startIndex", "uint64"), ("count", "uint32"), ("root", "bytes32")], ["bool"], "view"),
    _fn(
        "verify",
        [
            ("startIndex", "uint64"),
            ("count", "uint32"),
            ("root", "bytes32"),
            ("logIndex", "uint64"),
            ("fingerprint", "bytes32"),
            ("proof", "bytes32[]"),
        ],
        ["bool"],
        "view",
    ),
    _fn("owner", [], ["address"], "view"),
    # Contract v2 only (see V2_ONLY).
    _fn("protocolVersion", [], ["uint256"], "pure"),
    _fn("setAnchorer", [("account", "address"), ("authorised", "bool")], [], "nonpayable"),
    _fn("authoriseSigner", [("signer", "address")], [], "nonpayable"),
    _fn("revokeSigner", [("signer", "address")], [], "nonpayable"),
    _fn("signerWindow", [("signer", "address")], ["uint64", "uint64", "bool"], "view"),
    _fn("isSignerFor", [("signer", "address"), ("logIndex", "uint64")], ["bool"], "view"),
    {
        "type": "event",
        "name": "BatchAnchored",
        "anonymous": False,
        "inputs": [
            {"name": "batchId", "type": "uint64", "indexed": True, "internalType": "uint64"},
            {"name": "root", "type": "bytes32", "indexed": True, "internalType": "bytes32"},
            {"name": "startIndex", "type": "uint64", "indexed": False, "internalType": "uint64"},
            {"name": "count", "type": "uint32", "indexed": False, "internalType": "uint32"},
            {"name": "anchorer", "type": "address", "indexed": True, "internalType": "address"},
        ],
    },
    {
        "type": "event",
        "name": "SignerAuthorised",
        "anonymous": False,
        "inputs": [
            {"name": "signer", "type": "address", "indexed": True, "internalType": "address"},
            {"name": "fromIndex", "type": "uint64", "indexed": False, "internalType": "uint64"},
        ],
    },
    {
        "type": "event",
        "name": "SignerRevoked",
        "anonymous": False,
        "inputs": [
            {"name": "signer", "type": "address", "indexed": True, "internalType": "address"},
            {"name": "untilIndex", "type": "uint64", "indexed": False, "internalType": "uint64"},
        ],
    },
    # The custom errors, so reverts decode to names and arguments (node/chain/reverts.py).
    _error("PacSpaceAnchorUnauthorizedAnchorer", [("account", "address")]),
    _error("PacSpaceAnchorNonContiguousStart", [("expected", "uint64"), ("provided", "uint64")]),
    _error("PacSpaceAnchorEmptyBatch", []),
    _error("PacSpaceAnchorZeroRoot", []),
    _error("PacSpaceAnchorZeroAddress", []),
    _error("OwnableUnauthorizedAccount", [("account", "address")]),
    _error("OwnableInvalidOwner", [("owner", "address")]),
    # Contract v2 only (see V2_ONLY).
    _error("PacSpaceAnchorSignerExists", [("signer", "address")]),
    _error("PacSpaceAnchorSignerNotActive", [("signer", "address")]),
]

# Entries of ANCHOR_ABI that the v1 contract does not have, as (type, name); every other entry,
# setAnchorer included, is the same in both versions.
V2_ONLY: frozenset[tuple[str, str]] = frozenset(
    {
        ("function", "protocolVersion"),
        ("function", "authoriseSigner"),
        ("function", "revokeSigner"),
        ("function", "signerWindow"),
        ("function", "isSignerFor"),
        ("event", "SignerAuthorised"),
        ("event", "SignerRevoked"),
        ("error", "PacSpaceAnchorSignerExists"),
        ("error", "PacSpaceAnchorSignerNotActive"),
    }
)


def _signature(entry: dict[str, Any]) -> tuple[bytes, tuple[str, ...]]:
    types = tuple(parameter["type"] for parameter in entry["inputs"])
    return keccak256(f"{entry['name']}({','.join(types)})".encode())[:4], types


# Each function's selector and argument types.
_SIGNATURES = {entry["name"]: _signature(entry) for entry in ANCHOR_ABI if entry["type"] == "function"}
_WORD_BITS = {f"uint{bits}": bits for bits in range(8, 257, 8)}


def encode_call(name: str, *args: int | bytes) -> bytes:
    """The calldata of ``name(args)``: its 4-byte selector, then one 32-byte word per argument.

    Only for the functions whose arguments are all static words (unsigned integers, ``bytes32``): the
    anchoring job's hot calls (``anchor``, ``nextIndex``, ``batchCommitment``), encoded without building
    a web3 contract call each time (about 5 ms of CPU per call). Each value is checked against its type
    as the ABI encoder would, so a value that does not fit raises ValueError instead of being truncated.
    tests/unit/test_chain_abi.py checks the bytes against web3's encoder.
    """
    selector, types = _SIGNATURES[name]
    if len(args) != len(types):
        raise ValueError(f"{name} takes {len(types)} arguments, not {len(args)}")
    words = [selector]
    for kind, value in zip(types, args, strict=True):
        if kind == "bytes32" and isinstance(value, bytes) and len(value) == 32:
            words.append(value)
        elif kind in _WORD_BITS and isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 2 ** _WORD_BITS[kind]:
                raise ValueError(f"{name}: {value} does not fit {kind}")
            words.append(value.to_bytes(32, "big"))
        else:
            raise ValueError(f"{name}: {value!r} is not a {kind} value (encode_call takes uints and bytes32)")
    return b"".join(words)
