#!/usr/bin/env python3
"""Standalone verifier for PacSpace proof bundles, exports and checkpoints.

Written from docs/PROTOCOL.md alone: it never imports the ``node`` package, so a passing run
shows the document is enough to check a receipt. It needs only web3, eth-account, eth-utils
and eth-abi (safe-pysha3 and coincurve, when installed, make exports faster).

Three modes::

    python scripts/verify_receipt.py BUNDLE.json [--rpc URL] [--contract 0x..]
                                     [--confirmations N] [--explorer URL] [--json]
    python scripts/verify_receipt.py derive EXPORT.jsonl [--rpc URL] [--contract 0x..]
                                     [--confirmations N] [--json] [--quiet]
    python scripts/verify_receipt.py checkpoint TOKEN --export EXPORT.jsonl [--rpc URL]
                                     [--contract 0x..] [--confirmations N] [--json] [--quiet]

**Bundle** (section 4). ``BUNDLE.json`` is the body of ``GET /v1/receipts/{id}/proof`` (``-``
reads stdin).

* ``--rpc``: JSON-RPC endpoint of the anchor chain (env ``PACSPACE_RPC_URL``, else
  ``http://127.0.0.1:8545``).
* ``--contract``: the anchor contract you trust. When given, the bundle must name it and every
  on-chain check queries it; without it the bundle's own ``contract`` is used (and printed, so
  you can see which contract was trusted).
* ``--confirmations``: blocks required on top of the anchoring block, counting that block
  (default 1).
* ``--explorer``: block explorer base URL (env ``PACSPACE_EXPLORER_URL``); prints links to the
  anchoring transaction and the contract.
* ``--json``: print ``{"ok": bool, "checks": [{"name", "ok", "detail"}], ...}`` instead of lines.

Every check runs (none stops the others); a check whose inputs failed to parse is reported as
failed with the reason. Offline checks: format, domain, fingerprint, metadata, signature, leaf,
proof, range. On-chain checks: chain_id, anchorer, commitment, transaction, block,
confirmations. Exit status: 0 all checks passed, 1 some check failed, 2 unusable input (file
missing or not JSON).

**derive** (section 6). ``EXPORT.jsonl`` is ``GET /v1/balance/export`` (one bundle a line,
customerIndex order), streamed a line at a time. Every bundle gets the 14 checks above (the
fingerprint by section 1's formulas, chain facts fetched once per batch, the chain id once,
``isAnchorer`` once per signer); across bundles: ``gap`` (customerIndex must run 0, 1, 2, …;
the first missing index is named), ``order``, ``link`` (prevFingerprint), ``corrects`` (names
an earlier delta of the export), ``customer`` and ``deployment`` (one tenant/customer, one
chain/contract). Prints the count, the balance (sum of ``message.delta``), the head index and
fingerprint, and ``derived: balance N over C verified deltas`` or the failures (first 50 lines;
``--json`` keeps up to 10,000 and the total). Progress goes to stderr every 10,000 bundles
unless ``--quiet``.

**checkpoint** (section 5). ``TOKEN`` is the ``0x`` proofToken or ``@file``. Checks: token,
signature, anchorer, countersignature, export (every derive check on indexes 0..toIndex; later
lines are ignored), range, opening, net, closing, root, head. The countersigner's address is
printed (or "not countersigned"); whether it is the customer's is for the reader to decide.

The check functions are pure: they take the parsed bundle and, for on-chain checks, the values
fetched from the chain (``ChainFacts``); ``RpcChain`` is the only code that talks to a node, so
the offline checks (and the on-chain ones, given a fake ``ChainSource``) run without an RPC.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import io
import json
import os
import re
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO, TypeVar, cast

from eth_abi.abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3 import Web3
from web3.types import RPCEndpoint

# --- constants from docs/PROTOCOL.md ---------------------------------------------------------

BUNDLE_VERSION = "pacspace.proof.v1"
DOMAIN_NAME = "PacSpace"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "Delta"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DELTA_TYPE = (
    "Delta(string tenant,string customerId,int256 delta,string reason,string referenceId,"
    "bytes32 metadataHash,uint64 customerIndex,bytes32 prevFingerprint,bytes32 corrects,"
    "uint64 recordedAt,bytes32 salt)"
)
DELTA_FIELDS: list[dict[str, str]] = [
    {"name": "tenant", "type": "string"},
    {"name": "customerId", "type": "string"},
    {"name": "delta", "type": "int256"},
    {"name": "reason", "type": "string"},
    {"name": "referenceId", "type": "string"},
    {"name": "metadataHash", "type": "bytes32"},
    {"name": "customerIndex", "type": "uint64"},
    {"name": "prevFingerprint", "type": "bytes32"},
    {"name": "corrects", "type": "bytes32"},
    {"name": "recordedAt", "type": "uint64"},
    {"name": "salt", "type": "bytes32"},
]
DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
DELTA_TYPE_HASH = keccak(text=DELTA_TYPE)
CHECKPOINT_TYPE = (
    "Checkpoint(string tenant,string customerId,uint64 fromIndex,uint64 toIndex,uint64 count,"
    "int256 openingBalance,int256 net,int256 closingBalance,bytes32 rangeRoot,bytes32 headFingerprint,"
    "uint64 createdAt)"
)
CHECKPOINT_FIELDS: list[dict[str, str]] = [
    {"name": "tenant", "type": "string"},
    {"name": "customerId", "type": "string"},
    {"name": "fromIndex", "type": "uint64"},
    {"name": "toIndex", "type": "uint64"},
    {"name": "count", "type": "uint64"},
    {"name": "openingBalance", "type": "int256"},
    {"name": "net", "type": "int256"},
    {"name": "closingBalance", "type": "int256"},
    {"name": "rangeRoot", "type": "bytes32"},
    {"name": "headFingerprint", "type": "bytes32"},
    {"name": "createdAt", "type": "uint64"},
]
CHECKPOINT_TYPE_HASH = keccak(text=CHECKPOINT_TYPE)
TOKEN_VERSION = 0x01
TOKEN_TYPES = [
    *(f["type"] for f in CHECKPOINT_FIELDS),
    "uint256",  # chainId
    "address",  # verifyingContract
    "bytes",  # nodeSignature
    "bytes",  # countersignature
]
BATCH_ANCHORED = "BatchAnchored(uint64,bytes32,uint64,uint32,address)"
BATCH_ANCHORED_TOPIC = keccak(text=BATCH_ANCHORED)
ZERO32 = bytes(32)
MAX_SAFE_INTEGER = 2**53 - 1
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

CHECK_NAMES = (
    "format",
    "domain",
    "fingerprint",
    "metadata",
    "signature",
    "leaf",
    "proof",
    "range",
    "chain_id",
    "anchorer",
    "commitment",
    "transaction",
    "block",
    "confirmations",
)
OFFLINE_CHECKS = CHECK_NAMES[:8]
DEFAULT_RPC = "http://127.0.0.1:8545"

T = TypeVar("T")


class UnusableInput(Exception):
    """The bundle cannot be read at all (missing file, not JSON): exit status 2."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


# --- small helpers ---------------------------------------------------------------------------


def hx(data: bytes) -> str:
    """``0x``-prefixed lowercase hex."""
    return "0x" + data.hex()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if _is_jsonable(value) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _optional(module: str, attr: str) -> Any:
    """An attribute of an optional accelerator module, or None when it is not installed."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


# Keccak-256 is not hashlib's SHA3-256. safe-pysha3 (module ``sha3``) is ~6x faster per call than
# eth_utils' wrapper; coincurve recovers secp256k1 signatures ~20x faster than eth-account. Both
# are optional: without them the verifier falls back to eth-utils / eth-account.
_KECCAK_256: Any = _optional("sha3", "keccak_256")
_CC_PUBLIC_KEY: Any = _optional("coincurve", "PublicKey")


def k256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 of ``data``."""
    if _KECCAK_256 is not None:
        return bytes(_KECCAK_256(data).digest())
    return keccak(data)


@functools.lru_cache(maxsize=16)  # the leaf, proof and commitment checks of a bundle share it
def leaf_hash(log_index: int, fingerprint: bytes) -> bytes:
    """``keccak256(keccak256(abi.encode(uint256 logIndex, bytes32 fingerprint)))`` (section 2)."""
    return k256(k256(log_index.to_bytes(32, "big") + fingerprint))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """``keccak256(min(a,b) ‖ max(a,b))``, bytewise order (OpenZeppelin sorted pair)."""
    return k256(a + b) if a <= b else k256(b + a)


def fold_proof(leaf: bytes, proof: list[bytes]) -> bytes:
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


@functools.lru_cache(maxsize=16)
def _proof_root(log_index: int, fingerprint: bytes, proof: tuple[bytes, ...]) -> bytes:
    return fold_proof(leaf_hash(log_index, fingerprint), list(proof))


def proof_root(log_index: int, fingerprint: bytes, proof: list[bytes]) -> bytes:
    """What ``proof`` folds to from the leaf of ``(log_index, fingerprint)`` (memoised briefly:
    the proof check and an export's local ``verify`` fold the same proof)."""
    return _proof_root(log_index, fingerprint, tuple(proof))


def batch_commitment(root: bytes, count: int) -> bytes:
    """``keccak256(abi.encode(root, uint256(count)))`` (section 3)."""
    return k256(root + count.to_bytes(32, "big"))


def standard_tree_root(values: list[tuple[int, bytes]]) -> bytes:
    """Root of ``StandardMerkleTree.of(values, ["uint256", "bytes32"])`` (section 2's rules).

    Leaves sorted bytewise, placed from the end of a ``2n - 1`` array, parents by ``hash_pair``.
    """
    if not values:
        raise ValueError("a StandardMerkleTree needs at least one leaf")
    leaves = sorted(leaf_hash(index, fingerprint) for index, fingerprint in values)
    n = len(leaves)
    tree: list[bytes] = [b""] * (n - 1) + leaves[::-1]
    for i in range(n - 2, -1, -1):
        tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
    return tree[0]


def proof_length_bounds(count: int) -> tuple[int, int]:
    """Possible proof lengths in a StandardMerkleTree of ``count`` leaves.

    Leaves sit at nodes ``count-1 .. 2*count-2`` of the heap array; node ``i`` has depth
    ``floor(log2(i+1))``, so a proof has between ``floor(log2 count)`` and
    ``floor(log2(2*count-1))`` siblings.
    """
    return (count.bit_length() - 1, (2 * count - 1).bit_length() - 1)


def type_string(name: str, fields: list[dict[str, str]]) -> str:
    return name + "(" + ",".join(f"{f['type']} {f['name']}" for f in fields) + ")"


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, contract: bytes) -> bytes:
    return k256(
        keccak(text=DOMAIN_TYPE)
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + contract
    )


# --- canonical JSON (section 1) --------------------------------------------------------------

_SHORT_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def _canonical_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical_json(value: object) -> str:
    """The canonical JSON text of a parsed metadata value (RFC 8785 subset of section 1)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond ±(2^53-1)")
        return str(value)
    if isinstance(value, str):
        return _canonical_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]).encode("utf-16-be"))
        return "{" + ",".join(f"{_canonical_string(k)}:{canonical_json(v)}" for k, v in items) + "}"
    raise ValueError(f"{type(value).__name__} values are not allowed in metadata")


def _refuse_float(text: str) -> object:
    raise ValueError(f"float {text} is not allowed (integers only)")


def _refuse_constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_metadata(text: str) -> object:
    """Parse metadata text strictly: no floats, NaN/Infinity or duplicate keys."""
    return json.loads(
        text,
        parse_float=_refuse_float,
        parse_constant=_refuse_constant,
        object_pairs_hook=_no_duplicates,
    )


# --- bundle parsing (the `format` check) -----------------------------------------------------


@dataclass
class Message:
    tenant: str
    customer_id: str
    delta: int
    reason: str
    reference_id: str
    metadata_hash: bytes
    customer_index: int
    prev_fingerprint: bytes
    corrects: bytes
    recorded_at: int
    salt: bytes


@dataclass
class Bundle:
    """A parsed bundle: a field is None when it is missing or malformed (see ``problems``)."""

    raw: object = None
    version: str | None = None
    receipt_id: str | None = None
    chain_id: int | None = None
    contract: bytes | None = None
    typed_data: dict[str, Any] | None = None
    message: Message | None = None
    metadata_hash: bytes | None = None
    metadata: str | None = None
    metadata_ok: bool = False
    fingerprint: bytes | None = None
    signature: bytes | None = None
    signer: bytes | None = None
    log_index: int | None = None
    leaf: bytes | None = None
    proof: list[bytes] | None = None
    batch_id: int | None = None
    root: bytes | None = None
    start_index: int | None = None
    count: int | None = None
    tx_hash: bytes | None = None
    block_number: int | None = None
    block_hash: bytes | None = None
    problems: list[str] = field(default_factory=list)


_SIGNED_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
_UNSIGNED_DECIMAL = re.compile(r"(0|[1-9][0-9]*)")


@functools.lru_cache(maxsize=8)
def _hex_pattern(size: int) -> re.Pattern[str]:
    return re.compile(f"0x[0-9a-f]{{{2 * size}}}")


_HEX_PATTERNS = {size: _hex_pattern(size) for size in (20, 32, 65)}


class _Parser:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def get(self, obj: dict[str, Any], key: str, path: str) -> tuple[bool, Any]:
        if key not in obj:
            self.fail(path, "missing")
            return False, None
        return True, obj[key]

    def hexbytes(self, obj: dict[str, Any], key: str, path: str, size: int) -> bytes | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        return self.hex_value(value, path, size)

    def hex_value(self, value: object, path: str, size: int) -> bytes | None:
        pattern = _HEX_PATTERNS.get(size) or _hex_pattern(size)
        if isinstance(value, str) and pattern.fullmatch(value):
            return bytes.fromhex(value[2:])
        want = f"0x + {2 * size} lowercase hex digits ({size} bytes)"
        if not isinstance(value, str):
            self.fail(path, f"expected {want}, got {_describe(value)}")
            return None
        if re.fullmatch(f"0x[0-9a-fA-F]{{{2 * size}}}", value):
            self.fail(path, f"must be lowercase hex, got {value}")
        else:
            self.fail(path, f"expected {want}, got {_describe(value)}")
        return None

    def integer(self, obj: dict[str, Any], key: str, path: str, bits: int, minimum: int = 0) -> int | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        if not _is_int(value):
            self.fail(path, f"expected a JSON integer, got {_describe(value)}")
            return None
        if not minimum <= value < 2**bits:
            self.fail(path, f"{value} is outside [{minimum}, 2^{bits})")
            return None
        return int(value)

    def text(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        return self.text_value(value, path)

    def text_value(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_describe(value)}")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(path, "is not valid UTF-8 (lone surrogate)")
            return None
        return value

    def decimal(self, obj: dict[str, Any], key: str, path: str, signed: bool, bits: int) -> int | None:
        present, value = self.get(obj, key, path)
        if not present:
            return None
        pattern = _SIGNED_DECIMAL if signed else _UNSIGNED_DECIMAL
        if not isinstance(value, str) or not pattern.fullmatch(value) or value == "-0":
            self.fail(path, f"expected a decimal string (section 1), got {_describe(value)}")
            return None
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        # int() refuses strings of over 4300 digits; anything that long is out of range anyway
        number = int(value) if len(value) <= len(str(high)) + 1 else None
        if number is None or not low <= number < high:
            self.fail(path, f"{_describe(value)} is outside the range of {'int' if signed else 'uint'}{bits}")
            return None
        return number

    def obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        present, value = self.get(parent, key, path)
        if not present:
            return None
        if not isinstance(value, dict):
            self.fail(path, f"expected a JSON object, got {_describe(value)}")
            return None
        return value


def _parse_message(p: _Parser, b: Bundle, message: dict[str, Any]) -> None:
    allowed = {f["name"] for f in DELTA_FIELDS}
    extra = sorted(set(message) - allowed)
    if extra:
        p.fail("typedData.message", f"unexpected fields {extra} (not part of the Delta type)")
    tenant = p.text(message, "tenant", "typedData.message.tenant")
    customer_id = p.text(message, "customerId", "typedData.message.customerId")
    delta = p.decimal(message, "delta", "typedData.message.delta", signed=True, bits=256)
    reason = p.text(message, "reason", "typedData.message.reason")
    reference_id = p.text(message, "referenceId", "typedData.message.referenceId")
    b.metadata_hash = p.hexbytes(message, "metadataHash", "typedData.message.metadataHash", 32)
    customer_index = p.decimal(message, "customerIndex", "typedData.message.customerIndex", signed=False, bits=64)
    prev = p.hexbytes(message, "prevFingerprint", "typedData.message.prevFingerprint", 32)
    corrects = p.hexbytes(message, "corrects", "typedData.message.corrects", 32)
    recorded_at = p.decimal(message, "recordedAt", "typedData.message.recordedAt", signed=False, bits=64)
    salt = p.hexbytes(message, "salt", "typedData.message.salt", 32)
    if (
        tenant is None
        or customer_id is None
        or delta is None
        or reason is None
        or reference_id is None
        or b.metadata_hash is None
        or customer_index is None
        or prev is None
        or corrects is None
        or recorded_at is None
        or salt is None
        or extra
    ):
        return
    b.message = Message(
        tenant=tenant,
        customer_id=customer_id,
        delta=delta,
        reason=reason,
        reference_id=reference_id,
        metadata_hash=b.metadata_hash,
        customer_index=customer_index,
        prev_fingerprint=prev,
        corrects=corrects,
        recorded_at=recorded_at,
        salt=salt,
    )


def _parse_typed_data(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    typed = p.obj(raw, "typedData", "typedData")
    if typed is None:
        return
    types = p.obj(typed, "types", "typedData.types")
    domain = p.obj(typed, "domain", "typedData.domain")
    message = p.obj(typed, "message", "typedData.message")
    primary = p.text(typed, "primaryType", "typedData.primaryType")
    if message is not None:
        _parse_message(p, b, message)
    if types is not None and domain is not None and message is not None and primary is not None:
        b.typed_data = typed


def _parse_batch(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    batch = p.obj(raw, "batch", "batch")
    if batch is None:
        return
    b.batch_id = p.integer(batch, "id", "batch.id", 64)
    b.root = p.hexbytes(batch, "root", "batch.root", 32)
    b.start_index = p.integer(batch, "startIndex", "batch.startIndex", 64)
    b.count = p.integer(batch, "count", "batch.count", 32)
    b.tx_hash = p.hexbytes(batch, "txHash", "batch.txHash", 32)
    b.block_number = p.integer(batch, "blockNumber", "batch.blockNumber", 256)
    b.block_hash = p.hexbytes(batch, "blockHash", "batch.blockHash", 32)


def _parse_metadata_field(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    present, value = p.get(raw, "metadata", "metadata")
    if not present:
        return
    if value is None:
        b.metadata, b.metadata_ok = None, True
        return
    text = p.text_value(value, "metadata")
    if text is not None:
        b.metadata, b.metadata_ok = text, True


def _parse_proof(p: _Parser, b: Bundle, raw: dict[str, Any]) -> None:
    present, value = p.get(raw, "proof", "proof")
    if not present:
        return
    if not isinstance(value, list):
        p.fail("proof", f"expected a JSON array of 32-byte hex strings, got {_describe(value)}")
        return
    items = [p.hex_value(item, f"proof[{i}]", 32) for i, item in enumerate(value)]
    if all(item is not None for item in items):
        b.proof = [item for item in items if item is not None]


def parse_bundle(raw: object, duplicate_keys: list[str] | None = None) -> Bundle:
    """Parse a decoded bundle; every problem is recorded, never raised."""
    b = Bundle(raw=raw)
    p = _Parser()
    for key in duplicate_keys or []:
        p.fail(key, "duplicate JSON key (the bundle is ambiguous)")
    if not isinstance(raw, dict):
        p.fail("bundle", f"expected a JSON object, got {_describe(raw)}")
        b.problems = p.problems
        return b
    version = p.text(raw, "version", "version")
    if version is not None and version != BUNDLE_VERSION:
        p.fail("version", f"unknown version {version!r} (this verifier knows {BUNDLE_VERSION!r})")
    b.version = version
    b.receipt_id = p.text(raw, "receiptId", "receiptId")
    b.chain_id = p.integer(raw, "chainId", "chainId", 256, minimum=1)
    b.contract = p.hexbytes(raw, "contract", "contract", 20)
    _parse_typed_data(p, b, raw)
    _parse_metadata_field(p, b, raw)
    b.fingerprint = p.hexbytes(raw, "fingerprint", "fingerprint", 32)
    b.signature = p.hexbytes(raw, "signature", "signature", 65)
    b.signer = p.hexbytes(raw, "signer", "signer", 20)
    b.log_index = p.integer(raw, "logIndex", "logIndex", 64)
    b.leaf = p.hexbytes(raw, "leaf", "leaf", 32)
    _parse_proof(p, b, raw)
    _parse_batch(p, b, raw)
    b.problems = p.problems
    return b


# --- offline checks --------------------------------------------------------------------------


def _needs(b: Bundle, **fields: object) -> str | None:
    """Reason to skip a check when any of its inputs failed to parse, else None."""
    missing = [name for name, value in fields.items() if value is None]
    if not missing:
        return None
    return f"skipped: {', '.join(missing)} missing or malformed (see format)"


def check_format(b: Bundle) -> CheckResult:
    if b.problems:
        shown = "; ".join(b.problems[:6])
        more = f" (and {len(b.problems) - 6} more)" if len(b.problems) > 6 else ""
        return CheckResult("format", False, f"{len(b.problems)} problem(s): {shown}{more}")
    return CheckResult("format", True, f"{b.version} bundle for {b.receipt_id}; all fields present and well-typed")


def _domain_problems(b: Bundle, typed: dict[str, Any], pinned: bytes | None) -> list[str]:
    bad: list[str] = []
    domain = typed.get("domain")
    if not isinstance(domain, dict):
        return ["typedData.domain is not an object"]
    keys = set(domain)
    want_keys = {"name", "version", "chainId", "verifyingContract"}
    if keys != want_keys:
        bad.append(f"domain fields {sorted(keys)}, expected {sorted(want_keys)}")
    if domain.get("name") != DOMAIN_NAME:
        bad.append(f"name: expected {DOMAIN_NAME!r}, got {_describe(domain.get('name'))}")
    if domain.get("version") != DOMAIN_VERSION:
        bad.append(f"version: expected {DOMAIN_VERSION!r}, got {_describe(domain.get('version'))}")
    chain = domain.get("chainId")
    chain_value = chain if _is_int(chain) else None
    if isinstance(chain, str) and re.fullmatch(r"(0|[1-9][0-9]*)", chain):
        chain_value = int(chain)
    if chain_value is None or chain_value != b.chain_id:
        bad.append(f"chainId: expected {b.chain_id} (bundle chainId), got {_describe(chain)}")
    contract = domain.get("verifyingContract")
    want_contract = hx(b.contract) if b.contract is not None else None
    if not isinstance(contract, str) or contract.lower() != want_contract:
        bad.append(f"verifyingContract: expected {want_contract} (bundle contract), got {_describe(contract)}")
    if pinned is not None and b.contract is not None and b.contract != pinned:
        bad.append(f"bundle contract {hx(b.contract)} is not the pinned contract {hx(pinned)}")
    if typed.get("primaryType") != PRIMARY_TYPE:
        bad.append(f"primaryType: expected 'Delta', got {_describe(typed.get('primaryType'))}")
    types = typed.get("types")
    if not isinstance(types, dict):
        return [*bad, "typedData.types is not an object"]
    extra = sorted(set(types) - {"Delta", "EIP712Domain"})
    if extra:
        bad.append(f"types: unexpected types {extra}")
    if types.get("Delta") != DELTA_FIELDS:
        bad.append(f"types.Delta is not the protocol's {DELTA_TYPE}")
    if "EIP712Domain" in types and types["EIP712Domain"] != DOMAIN_FIELDS:
        bad.append(f"types.EIP712Domain is not {DOMAIN_TYPE}")
    return bad


def check_domain(b: Bundle, pinned_contract: bytes | None = None) -> CheckResult:
    skip = _needs(b, typedData=b.typed_data, chainId=b.chain_id, contract=b.contract)
    if skip or b.typed_data is None:
        return CheckResult("domain", False, skip or "")
    bad = _domain_problems(b, b.typed_data, pinned_contract)
    if bad:
        return CheckResult("domain", False, "; ".join(bad))
    return CheckResult(
        "domain",
        True,
        f"PacSpace v1 on chain {b.chain_id} at {_hx_opt(b.contract)}, primaryType Delta, types as in the protocol",
    )


def _hx_opt(data: bytes | None) -> str:
    return hx(data) if data is not None else "?"


def eip712_digest(typed_data: dict[str, Any]) -> bytes:
    """The EIP-712 digest of typed data JSON, by eth-account."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def manual_digest(chain_id: int, contract: bytes, m: Message) -> bytes:
    """The digest by hand from section 1's formulas (independent of the typed data JSON)."""
    struct_hash = k256(
        DELTA_TYPE_HASH
        + k256(m.tenant.encode("utf-8"))
        + k256(m.customer_id.encode("utf-8"))
        + m.delta.to_bytes(32, "big", signed=True)
        + k256(m.reason.encode("utf-8"))
        + k256(m.reference_id.encode("utf-8"))
        + m.metadata_hash
        + m.customer_index.to_bytes(32, "big")
        + m.prev_fingerprint
        + m.corrects
        + m.recorded_at.to_bytes(32, "big")
        + m.salt
    )
    return k256(b"\x19\x01" + domain_separator(chain_id, contract) + struct_hash)


def _check_fingerprint_fast(b: Bundle) -> CheckResult:
    """Section 1's formulas only (exports): with the domain check passing, typedData holds
    exactly the parsed message under the bundle's domain, so this is its EIP-712 digest."""
    skip = _needs(b, message=b.message, chainId=b.chain_id, contract=b.contract, fingerprint=b.fingerprint)
    if skip or b.message is None or b.chain_id is None or b.contract is None or b.fingerprint is None:
        return CheckResult("fingerprint", False, skip or "")
    digest = manual_digest(b.chain_id, b.contract, b.message)
    if digest != b.fingerprint:
        return CheckResult(
            "fingerprint",
            False,
            f"digest of the message by section 1's formulas is {hx(digest)}, bundle fingerprint is {hx(b.fingerprint)}",
        )
    return CheckResult("fingerprint", True, f"{hx(digest)} is the EIP-712 digest of the message")


def check_fingerprint(b: Bundle, fast: bool = False) -> CheckResult:
    if fast:
        return _check_fingerprint_fast(b)
    skip = _needs(b, typedData=b.typed_data, fingerprint=b.fingerprint)
    if skip or b.typed_data is None or b.fingerprint is None:
        return CheckResult("fingerprint", False, skip or "")
    try:
        digest = eip712_digest(b.typed_data)
    except Exception as exc:
        return CheckResult("fingerprint", False, f"eth-account cannot encode typedData: {type(exc).__name__}: {exc}")
    if digest != b.fingerprint:
        return CheckResult(
            "fingerprint",
            False,
            f"EIP-712 digest of typedData is {hx(digest)}, bundle fingerprint is {hx(b.fingerprint)}",
        )
    if b.message is not None and b.chain_id is not None and b.contract is not None:
        by_hand = manual_digest(b.chain_id, b.contract, b.message)
        if by_hand != b.fingerprint:
            return CheckResult(
                "fingerprint",
                False,
                f"digest by section 1's formulas (domain of the bundle's chainId and contract) is "
                f"{hx(by_hand)}, bundle fingerprint is {hx(b.fingerprint)}",
            )
    return CheckResult("fingerprint", True, f"{hx(digest)} is the EIP-712 digest of typedData")


def check_metadata(b: Bundle) -> CheckResult:
    skip = _needs(
        b,
        metadata="ok" if b.metadata_ok else None,
        **{"message.metadataHash": b.metadata_hash},
    )
    if skip or b.metadata_hash is None:
        return CheckResult("metadata", False, skip or "")
    if b.metadata is None:
        if b.metadata_hash != ZERO32:
            return CheckResult(
                "metadata",
                False,
                f"metadata is null but message.metadataHash is {hx(b.metadata_hash)}, "
                f"expected 32 zero bytes (the bundle withholds the metadata text)",
            )
        return CheckResult("metadata", True, "no metadata; metadataHash is 32 zero bytes")
    digest = k256(b.metadata.encode("utf-8"))
    if digest != b.metadata_hash:
        return CheckResult(
            "metadata",
            False,
            f"keccak256(metadata) is {hx(digest)}, message.metadataHash is {hx(b.metadata_hash)}",
        )
    try:
        value = parse_metadata(b.metadata)
        if not isinstance(value, dict):
            raise ValueError(f"metadata must be a JSON object, got {type(value).__name__}")
        canonical = canonical_json(value)
    except (ValueError, RecursionError) as exc:
        return CheckResult("metadata", False, f"metadata text is not canonical JSON: {exc}")
    if canonical != b.metadata:
        return CheckResult(
            "metadata",
            False,
            f"metadata text is not canonical: got {_describe(b.metadata)}, canonical form is {_describe(canonical)}",
        )
    return CheckResult("metadata", True, f"canonical {_describe(b.metadata)} hashes to message.metadataHash")


def signature_problem(signature: bytes, low_s: bool = True) -> str | None:
    """Why a 65-byte ``r ‖ s ‖ v`` signature is malformed under section 1's rules, else None."""
    if len(signature) != 65:
        return f"signature is {len(signature)} bytes, expected 65 (r ‖ s ‖ v)"
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        return f"v is {v}, expected 27 or 28"
    if not 0 < r < SECP256K1_N:
        return "r is out of range"
    if not 0 < s < SECP256K1_N:
        return "s is out of range"
    if low_s and s > SECP256K1_N // 2:
        return "s is not in the lower half of the curve order"
    return None


def recover_signer(digest: bytes, signature: bytes, fast: bool = True) -> bytes:
    """``ecrecover(digest, signature)`` as 20 bytes; coincurve when available and ``fast``.

    The signature must already have passed ``signature_problem``; raises when no key recovers.
    """
    if fast and _CC_PUBLIC_KEY is not None:
        compact = signature[:64] + bytes([signature[64] - 27])
        public = _CC_PUBLIC_KEY.from_signature_and_message(compact, digest, hasher=None)
        return k256(bytes(public.format(compressed=False))[1:])[12:]
    return bytes.fromhex(Account._recover_hash(digest, signature=signature)[2:])


def check_signature(b: Bundle, fast: bool = False) -> CheckResult:
    skip = _needs(b, fingerprint=b.fingerprint, signature=b.signature, signer=b.signer)
    if skip or b.fingerprint is None or b.signature is None or b.signer is None:
        return CheckResult("signature", False, skip or "")
    problem = signature_problem(b.signature)
    if problem:
        return CheckResult("signature", False, problem)
    try:
        recovered = hx(recover_signer(b.fingerprint, b.signature, fast=fast))
    except Exception as exc:
        return CheckResult("signature", False, f"cannot recover a signer: {exc}")
    if recovered != hx(b.signer):
        return CheckResult("signature", False, f"signature recovers to {recovered}, bundle signer is {hx(b.signer)}")
    return CheckResult("signature", True, f"signed by {recovered}")


def check_leaf(b: Bundle) -> CheckResult:
    skip = _needs(b, logIndex=b.log_index, fingerprint=b.fingerprint, leaf=b.leaf)
    if skip or b.log_index is None or b.fingerprint is None or b.leaf is None:
        return CheckResult("leaf", False, skip or "")
    want = leaf_hash(b.log_index, b.fingerprint)
    if want != b.leaf:
        return CheckResult(
            "leaf",
            False,
            f"leaf of (logIndex {b.log_index}, fingerprint) is {hx(want)}, bundle leaf is {hx(b.leaf)}",
        )
    return CheckResult("leaf", True, f"{hx(want)} for log index {b.log_index}")


def check_proof(b: Bundle) -> CheckResult:
    skip = _needs(
        b,
        logIndex=b.log_index,
        fingerprint=b.fingerprint,
        proof=b.proof,
        **{"batch.root": b.root},
    )
    if skip or b.log_index is None or b.fingerprint is None or b.proof is None or b.root is None:
        return CheckResult("proof", False, skip or "")
    # Fold from the recomputed leaf: what matters is that this fingerprint is in the batch.
    folded = proof_root(b.log_index, b.fingerprint, b.proof)
    if folded != b.root:
        return CheckResult(
            "proof",
            False,
            f"proof of {len(b.proof)} hash(es) folds to {hx(folded)}, batch.root is {hx(b.root)}",
        )
    if b.count is not None and b.count > 0:
        low, high = proof_length_bounds(b.count)
        if not low <= len(b.proof) <= high:
            return CheckResult(
                "proof",
                False,
                f"a proof of {len(b.proof)} hash(es) is impossible in a batch of count "
                f"{b.count} (a StandardMerkleTree leaf of {b.count} has {low}..{high})",
            )
    return CheckResult("proof", True, f"{len(b.proof)} hash(es) fold to batch root {hx(b.root)}")


def check_range(b: Bundle) -> CheckResult:
    skip = _needs(
        b,
        logIndex=b.log_index,
        **{"batch.startIndex": b.start_index, "batch.count": b.count},
    )
    if skip or b.log_index is None or b.start_index is None or b.count is None:
        return CheckResult("range", False, skip or "")
    end = b.start_index + b.count
    if b.count == 0:
        return CheckResult("range", False, "batch.count is 0; a batch has at least one entry")
    if not b.start_index <= b.log_index < end:
        return CheckResult(
            "range",
            False,
            f"logIndex {b.log_index} is outside the batch [{b.start_index}, {end})",
        )
    return CheckResult("range", True, f"log index {b.log_index} in [{b.start_index}, {end})")


def run_offline_checks(b: Bundle, pinned_contract: bytes | None = None, fast: bool = False) -> list[CheckResult]:
    """Section 4's offline checks. ``fast`` (exports): the fingerprint by section 1's formulas
    only, not also through eth-account's generic encoder, and signatures recovered by coincurve."""
    return [
        check_format(b),
        check_domain(b, pinned_contract),
        check_fingerprint(b, fast),
        check_metadata(b),
        check_signature(b, fast),
        check_leaf(b),
        check_proof(b),
        check_range(b),
    ]


# --- chain access ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    address: bytes
    topics: list[bytes]
    data: bytes


@dataclass(frozen=True)
class TxReceipt:
    status: int
    to: bytes | None
    block_number: int
    block_hash: bytes
    logs: list[LogEntry]


class ChainSource(Protocol):
    """What the on-chain checks need from a node; ``RpcChain`` is the real one."""

    url: str

    def chain_id(self) -> int: ...
    def code_size(self, contract: bytes) -> int: ...
    def is_anchorer(self, contract: bytes, account: bytes) -> bool: ...
    def batch_commitment(self, contract: bytes, start_index: int) -> bytes: ...
    def verify(
        self,
        contract: bytes,
        start_index: int,
        count: int,
        root: bytes,
        log_index: int,
        fingerprint: bytes,
        proof: list[bytes],
    ) -> bool: ...
    def transaction_receipt(self, tx_hash: bytes) -> TxReceipt | None: ...
    def block_hash(self, number: int) -> bytes | None: ...
    def head(self) -> int: ...


class RpcError(Exception):
    """The RPC answered with an error or an unexpected shape."""


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _hex_to_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"{what}: expected hex data, got {_describe(value)}")
    return bytes.fromhex(value[2:])


def _hex_to_int(value: object, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"{what}: expected a hex quantity, got {_describe(value)}")
    return int(value, 16)


class RpcChain:
    """Raw JSON-RPC calls through web3's HTTP provider (no formatters, so PoA chains work)."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url
        self._provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self._provider.make_request(RPCEndpoint(method), params)
        if "error" in response and response["error"] is not None:
            raise RpcError(f"{method}: {response['error']}")
        if "result" not in response:
            raise RpcError(f"{method}: no result in {response}")
        return response["result"]

    def _call(self, contract: bytes, data: bytes) -> bytes:
        result = self._rpc("eth_call", [{"to": hx(contract), "data": hx(data)}, "latest"])
        return _hex_to_bytes(result, "eth_call")

    def chain_id(self) -> int:
        return _hex_to_int(self._rpc("eth_chainId", []), "eth_chainId")

    def code_size(self, contract: bytes) -> int:
        return len(_hex_to_bytes(self._rpc("eth_getCode", [hx(contract), "latest"]), "eth_getCode"))

    def is_anchorer(self, contract: bytes, account: bytes) -> bool:
        out = self._call(contract, _selector("isAnchorer(address)") + encode(["address"], [account]))
        return bool(decode(["bool"], out)[0])

    def batch_commitment(self, contract: bytes, start_index: int) -> bytes:
        data = _selector("batchCommitment(uint64)") + encode(["uint64"], [start_index])
        return bytes(decode(["bytes32"], self._call(contract, data))[0])

    def verify(
        self,
        contract: bytes,
        start_index: int,
        count: int,
        root: bytes,
        log_index: int,
        fingerprint: bytes,
        proof: list[bytes],
    ) -> bool:
        args = encode(
            ["uint64", "uint32", "bytes32", "uint64", "bytes32", "bytes32[]"],
            [start_index, count, root, log_index, fingerprint, proof],
        )
        sig = "verify(uint64,uint32,bytes32,uint64,bytes32,bytes32[])"
        return bool(decode(["bool"], self._call(contract, _selector(sig) + args))[0])

    def transaction_receipt(self, tx_hash: bytes) -> TxReceipt | None:
        raw = self._rpc("eth_getTransactionReceipt", [hx(tx_hash)])
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise RpcError(f"eth_getTransactionReceipt: unexpected {_describe(raw)}")
        logs = [
            LogEntry(
                address=_hex_to_bytes(log.get("address"), "log address"),
                topics=[_hex_to_bytes(t, "log topic") for t in log.get("topics", [])],
                data=_hex_to_bytes(log.get("data"), "log data"),
            )
            for log in raw.get("logs", [])
        ]
        to = raw.get("to")
        return TxReceipt(
            status=_hex_to_int(raw.get("status"), "receipt status"),
            to=None if to is None else _hex_to_bytes(to, "receipt to"),
            block_number=_hex_to_int(raw.get("blockNumber"), "receipt blockNumber"),
            block_hash=_hex_to_bytes(raw.get("blockHash"), "receipt blockHash"),
            logs=logs,
        )

    def block_hash(self, number: int) -> bytes | None:
        raw = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise RpcError(f"eth_getBlockByNumber: unexpected {_describe(raw)}")
        return _hex_to_bytes(raw.get("hash"), "block hash")

    def head(self) -> int:
        return _hex_to_int(self._rpc("eth_blockNumber", []), "eth_blockNumber")


@dataclass(frozen=True)
class FetchError:
    message: str


@dataclass
class ChainFacts:
    """Values fetched from the chain; None = not fetched (its inputs failed to parse)."""

    contract: bytes | None = None
    chain_id: int | FetchError | None = None
    code_size: int | FetchError | None = None
    is_anchorer: bool | FetchError | None = None
    commitment: bytes | FetchError | None = None
    verify: bool | FetchError | None = None
    receipt: TxReceipt | FetchError | None = None
    receipt_missing: bool = False
    block_hash: bytes | FetchError | None = None
    block_missing: bool = False
    head: int | FetchError | None = None


def _attempt(fn: Callable[[], T], what: str) -> T | FetchError:
    try:
        return fn()
    except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
        return FetchError(f"{what}: RPC unreachable ({type(exc).__name__})")
    except Exception as exc:
        return FetchError(f"{what} failed: {type(exc).__name__}: {exc}")


def fetch_chain_facts(chain: ChainSource, b: Bundle, contract: bytes | None) -> ChainFacts:
    """Fetch everything the on-chain checks need, never raising."""
    facts = ChainFacts(contract=contract)
    try:
        facts.chain_id = chain.chain_id()
    except OSError as exc:
        unreachable = FetchError(f"RPC unreachable at {chain.url} ({type(exc).__name__})")
        facts.chain_id = facts.code_size = facts.is_anchorer = unreachable
        facts.commitment = facts.verify = facts.receipt = unreachable
        facts.block_hash = facts.head = unreachable
        return facts
    except Exception as exc:
        facts.chain_id = FetchError(f"eth_chainId failed at {chain.url}: {exc}")
    if contract is not None:
        facts.code_size = _attempt(lambda: chain.code_size(contract), "eth_getCode")
        if b.signer is not None:
            signer = b.signer
            facts.is_anchorer = _attempt(lambda: chain.is_anchorer(contract, signer), "isAnchorer")
        if b.start_index is not None:
            start = b.start_index
            facts.commitment = _attempt(lambda: chain.batch_commitment(contract, start), "batchCommitment")
        if (
            b.start_index is not None
            and b.count is not None
            and b.root is not None
            and b.log_index is not None
            and b.fingerprint is not None
            and b.proof is not None
        ):
            args = (b.start_index, b.count, b.root, b.log_index, b.fingerprint, b.proof)
            facts.verify = _attempt(lambda: chain.verify(contract, *args), "verify")
    if b.tx_hash is not None:
        tx_hash = b.tx_hash
        receipt = _attempt(lambda: chain.transaction_receipt(tx_hash), "eth_getTransactionReceipt")
        facts.receipt_missing = receipt is None
        facts.receipt = receipt
    if b.block_number is not None:
        number = b.block_number
        block = _attempt(lambda: chain.block_hash(number), "eth_getBlockByNumber")
        facts.block_missing = block is None
        facts.block_hash = block
    facts.head = _attempt(chain.head, "eth_blockNumber")
    return facts


# --- on-chain checks -------------------------------------------------------------------------


def check_chain_id(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = _needs(b, chainId=b.chain_id)
    if skip or b.chain_id is None:
        return CheckResult("chain_id", False, skip or "")
    if isinstance(facts.chain_id, FetchError):
        return CheckResult("chain_id", False, facts.chain_id.message)
    if facts.chain_id != b.chain_id:
        return CheckResult("chain_id", False, f"RPC chain id is {facts.chain_id}, bundle chainId is {b.chain_id}")
    return CheckResult("chain_id", True, f"RPC is on chain {b.chain_id}")


def _contract_problem(facts: ChainFacts) -> str | None:
    if facts.contract is None:
        return "skipped: no contract to query (bundle contract malformed, none pinned)"
    if isinstance(facts.code_size, FetchError):
        return facts.code_size.message
    if facts.code_size == 0:
        return f"no contract code at {hx(facts.contract)} on this chain"
    return None


def check_anchorer(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = _needs(b, signer=b.signer) or _contract_problem(facts)
    if skip or b.signer is None:
        return CheckResult("anchorer", False, skip or "")
    if isinstance(facts.is_anchorer, FetchError) or facts.is_anchorer is None:
        why = facts.is_anchorer.message if facts.is_anchorer else "isAnchorer not called"
        return CheckResult("anchorer", False, why)
    if not facts.is_anchorer:
        return CheckResult(
            "anchorer",
            False,
            f"isAnchorer({hx(b.signer)}) is false on {_hx_opt(facts.contract)}: "
            "the signer is not (or no longer) an authorised anchorer",
        )
    return CheckResult("anchorer", True, f"{hx(b.signer)} is an authorised anchorer")


def check_commitment(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = _needs(
        b, **{"batch.root": b.root, "batch.startIndex": b.start_index, "batch.count": b.count}
    ) or _contract_problem(facts)
    if skip or b.root is None or b.start_index is None or b.count is None:
        return CheckResult("commitment", False, skip or "")
    if isinstance(facts.commitment, FetchError) or facts.commitment is None:
        why = facts.commitment.message if facts.commitment else "batchCommitment not called"
        return CheckResult("commitment", False, why)
    want = batch_commitment(b.root, b.count)
    if facts.commitment == ZERO32:
        return CheckResult("commitment", False, f"no batch starts at log index {b.start_index} on the contract")
    if facts.commitment != want:
        return CheckResult(
            "commitment",
            False,
            f"batchCommitment({b.start_index}) is {hx(facts.commitment)}, expected "
            f"keccak256(abi.encode(root, {b.count})) = {hx(want)}",
        )
    if isinstance(facts.verify, FetchError) or facts.verify is None:
        why = facts.verify.message if facts.verify else "skipped verify(...): inputs malformed"
        return CheckResult("commitment", False, f"commitment matches but {why}")
    if not facts.verify:
        return CheckResult("commitment", False, "commitment matches but contract verify(...) returned false")
    return CheckResult(
        "commitment",
        True,
        f"batchCommitment({b.start_index}) = {hx(want)}; contract verify(...) is true",
    )


def _matching_event(b: Bundle, contract: bytes, receipt: TxReceipt) -> tuple[bool, str]:
    seen: list[str] = []
    for log in receipt.logs:
        if log.address != contract or not log.topics or log.topics[0] != BATCH_ANCHORED_TOPIC:
            continue
        if len(log.topics) != 4 or len(log.data) != 64:
            seen.append("malformed BatchAnchored log")
            continue
        batch_id = int.from_bytes(log.topics[1], "big")
        root = log.topics[2]
        start, count = int.from_bytes(log.data[:32], "big"), int.from_bytes(log.data[32:], "big")
        if start >= 2**64 or count >= 2**32:
            seen.append("malformed BatchAnchored log (startIndex or count out of range)")
            continue
        anchorer = hx(log.topics[3][12:])
        if (batch_id, root, start, count) == (b.batch_id, b.root, b.start_index, b.count):
            return True, f"BatchAnchored(id {batch_id}, start {start}, count {count}) by {anchorer}"
        seen.append(f"BatchAnchored(id {batch_id}, root {hx(root)}, start {start}, count {count})")
    if not seen:
        return False, f"the transaction emitted no BatchAnchored from {hx(contract)}"
    return False, (
        f"no BatchAnchored(id {b.batch_id}, root {_hx_opt(b.root)}, start {b.start_index}, "
        f"count {b.count}); the transaction emitted {'; '.join(seen)}"
    )


def check_transaction(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = _needs(
        b,
        **{
            "batch.txHash": b.tx_hash,
            "batch.blockNumber": b.block_number,
            "batch.blockHash": b.block_hash,
            "batch.id": b.batch_id,
            "batch.root": b.root,
            "batch.startIndex": b.start_index,
            "batch.count": b.count,
        },
    )
    if facts.contract is None and not skip:
        skip = "skipped: no contract (bundle contract malformed, none pinned)"
    if skip or b.tx_hash is None or facts.contract is None:
        return CheckResult("transaction", False, skip or "")
    if isinstance(facts.receipt, FetchError):
        return CheckResult("transaction", False, facts.receipt.message)
    if facts.receipt is None:
        return CheckResult("transaction", False, f"no receipt for {hx(b.tx_hash)} on this chain")
    r = facts.receipt
    bad: list[str] = []
    if r.status != 1:
        bad.append(f"status is {r.status} (reverted), expected 1")
    if r.to != facts.contract:
        bad.append(f"to is {_hx_opt(r.to)}, expected the contract {hx(facts.contract)}")
    if r.block_number != b.block_number:
        bad.append(f"blockNumber is {r.block_number}, bundle says {b.block_number}")
    if r.block_hash != b.block_hash:
        bad.append(f"blockHash is {hx(r.block_hash)}, bundle says {_hx_opt(b.block_hash)}")
    found, event = _matching_event(b, facts.contract, r)
    if not found:
        bad.append(event)
    if bad:
        return CheckResult("transaction", False, f"{hx(b.tx_hash)}: " + "; ".join(bad))
    return CheckResult("transaction", True, f"{hx(b.tx_hash)} in block {r.block_number} emitted {event}")


def check_block(b: Bundle, facts: ChainFacts) -> CheckResult:
    skip = _needs(b, **{"batch.blockNumber": b.block_number, "batch.blockHash": b.block_hash})
    if skip or b.block_number is None or b.block_hash is None:
        return CheckResult("block", False, skip or "")
    if isinstance(facts.block_hash, FetchError):
        return CheckResult("block", False, facts.block_hash.message)
    if facts.block_hash is None:
        return CheckResult("block", False, f"the chain has no block {b.block_number} (yet)")
    if facts.block_hash != b.block_hash:
        return CheckResult(
            "block",
            False,
            f"block {b.block_number} is {hx(facts.block_hash)}, bundle blockHash is "
            f"{hx(b.block_hash)} (reorganised away?)",
        )
    return CheckResult("block", True, f"block {b.block_number} {hx(b.block_hash)} is canonical")


def check_confirmations(b: Bundle, facts: ChainFacts, required: int) -> CheckResult:
    skip = _needs(b, **{"batch.blockNumber": b.block_number})
    if skip or b.block_number is None:
        return CheckResult("confirmations", False, skip or "")
    if isinstance(facts.head, FetchError) or facts.head is None:
        return CheckResult("confirmations", False, facts.head.message if facts.head else "")
    got = max(0, facts.head - b.block_number + 1)
    if got < required:
        return CheckResult(
            "confirmations",
            False,
            f"{got} confirmation(s) (head {facts.head}, block {b.block_number}), {required} required",
        )
    return CheckResult("confirmations", True, f"{got} confirmation(s) (head {facts.head}), {required} required")


def run_chain_checks(b: Bundle, facts: ChainFacts, required: int) -> list[CheckResult]:
    return [
        check_chain_id(b, facts),
        check_anchorer(b, facts),
        check_commitment(b, facts),
        check_transaction(b, facts),
        check_block(b, facts),
        check_confirmations(b, facts, required),
    ]


def run_all_checks(
    b: Bundle, chain: ChainSource, pinned_contract: bytes | None, required: int, fast: bool = False
) -> list[CheckResult]:
    contract = pinned_contract if pinned_contract is not None else b.contract
    facts = fetch_chain_facts(chain, b, contract)
    return run_offline_checks(b, pinned_contract, fast) + run_chain_checks(b, facts, required)


# --- exports (section 6): every delta of one customer ----------------------------------------

# Checks across the bundles of an export, on top of each bundle's own section 4 checks.
EXPORT_CHECKS = ("gap", "order", "link", "corrects", "customer", "deployment")
CHECKPOINT_CHECKS = (
    "token",
    "signature",
    "anchorer",
    "countersignature",
    "export",
    "range",
    "opening",
    "net",
    "closing",
    "root",
    "head",
)
PROGRESS_EVERY = 10_000
PRINTED_FAILURES = 50
KEPT_FAILURES = 10_000
CHAIN_CACHE_SIZE = 4096


class CachedChain:
    """A ChainSource that asks the real one once per distinct question (bounded LRU memo).

    The bundles of an export share the chain id, the contract, the signer and, a batch at a
    time, the batch facts (commitment, transaction receipt, block hash); the head is read once.
    Errors are remembered too, so an unreachable RPC is reported for every bundle without a
    timeout each. ``verify`` asks the contract for the first proof of each batch; the batch's
    other proofs are checked locally by the contract's own rule (section 3: stored commitment
    matches, index in range, proof folds to the root) against the commitment read from chain.
    """

    def __init__(self, chain: ChainSource, size: int = CHAIN_CACHE_SIZE) -> None:
        self.url = chain.url
        self.inner = chain
        self._size = size
        self._memo: OrderedDict[tuple[object, ...], tuple[bool, object]] = OrderedDict()

    def _ask(self, key: tuple[object, ...], fn: Callable[[], T]) -> T:
        hit = self._memo.get(key)
        if hit is None:
            try:
                hit = (True, fn())
            except Exception as exc:
                hit = (False, exc)
            self._memo[key] = hit
            if len(self._memo) > self._size:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        ok, value = hit
        if not ok:
            assert isinstance(value, BaseException)
            raise value.with_traceback(None)
        return cast("T", value)

    def chain_id(self) -> int:
        return self._ask(("chain_id",), self.inner.chain_id)

    def code_size(self, contract: bytes) -> int:
        return self._ask(("code", contract), lambda: self.inner.code_size(contract))

    def is_anchorer(self, contract: bytes, account: bytes) -> bool:
        return self._ask(("anchorer", contract, account), lambda: self.inner.is_anchorer(contract, account))

    def batch_commitment(self, contract: bytes, start_index: int) -> bytes:
        return self._ask(
            ("commitment", contract, start_index), lambda: self.inner.batch_commitment(contract, start_index)
        )

    def verify(
        self,
        contract: bytes,
        start_index: int,
        count: int,
        root: bytes,
        log_index: int,
        fingerprint: bytes,
        proof: list[bytes],
    ) -> bool:
        key = ("verify", contract, start_index, count, root)
        if key not in self._memo:
            args = (contract, start_index, count, root, log_index, fingerprint, proof)
            return self._ask(key, lambda: self.inner.verify(*args))
        self._ask(key, lambda: False)  # re-raises the RPC error of the batch's first call, if any
        stored = self.batch_commitment(contract, start_index)
        return (
            stored != ZERO32
            and stored == batch_commitment(root, count)
            and start_index <= log_index < start_index + count
            and proof_root(log_index, fingerprint, proof) == root
        )

    def transaction_receipt(self, tx_hash: bytes) -> TxReceipt | None:
        return self._ask(("receipt", tx_hash), lambda: self.inner.transaction_receipt(tx_hash))

    def block_hash(self, number: int) -> bytes | None:
        return self._ask(("block", number), lambda: self.inner.block_hash(number))

    def head(self) -> int:
        return self._ask(("head",), self.inner.head)


@dataclass(frozen=True)
class Failure:
    """One failed check of one export line."""

    line: int
    customer_index: int | None
    receipt_id: str | None
    check: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "customerIndex": self.customer_index,
            "receiptId": self.receipt_id,
            "check": self.check,
            "detail": self.detail,
            "line": self.line,
        }

    def describe(self) -> str:
        index = "?" if self.customer_index is None else str(self.customer_index)
        receipt = f" ({self.receipt_id})" if self.receipt_id else ""
        return f"✗ customerIndex {index}{receipt}, line {self.line}: {self.check}: {self.detail}"


def _loose_index(raw: object) -> int | None:
    """``typedData.message.customerIndex`` of a bundle whose message failed to parse, if readable."""
    try:
        value = raw["typedData"]["message"]["customerIndex"]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return None
    if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,19}", value):
        return int(value)
    return None


def bundle_index(b: Bundle) -> int | None:
    return b.message.customer_index if b.message is not None else _loose_index(b.raw)


DeltaHook = Callable[[int, "int | None", "bytes | None"], None]


class ExportChecker:
    """Checks an export's bundles one at a time, in order, keeping little state.

    Per bundle: section 4's checks (fast mode; chain facts through a ``CachedChain``). Across
    bundles: ``gap`` (customerIndex must go 0, 1, 2, … ; names the first missing index),
    ``order`` (an index repeated or going back), ``link`` (prevFingerprint is the previous
    bundle's fingerprint; index 0 links to zero), ``corrects`` (a non-zero value is the
    fingerprint of an earlier delta of the export), ``customer`` (one tenant and customerId)
    and ``deployment`` (one chainId and contract). The fingerprints seen are kept in a set for
    ``corrects``: about 100 bytes each, ~100 MB for a million deltas.
    """

    def __init__(
        self,
        chain: ChainSource,
        pinned: bytes | None,
        required: int,
        *,
        customer: tuple[str, str] | None = None,
        deployment: tuple[int, bytes] | None = None,
        on_delta: DeltaHook | None = None,
        kept: int | None = None,
    ) -> None:
        self.chain = chain if isinstance(chain, CachedChain) else CachedChain(chain)
        self.pinned = pinned
        self.required = required
        self.customer = customer
        self.customer_from = "the checkpoint's" if customer is not None else "the export's"
        self.deployment = deployment
        self.deployment_from = "the checkpoint's" if deployment is not None else "the export's"
        self.on_delta = on_delta
        self.kept = KEPT_FAILURES if kept is None else kept
        self.count = 0
        self.balance = 0
        self.next_index = 0
        self.prev_fingerprint: bytes | None = ZERO32
        self.head_index: int | None = None
        self.head_fingerprint: bytes | None = None
        self.seen: set[bytes] = set()
        self.failures: list[Failure] = []
        self.failure_count = 0
        self.failed_bundles = 0
        self.by_check: Counter[str] = Counter()
        self._batch_checks: dict[tuple[object, ...], tuple[ChainFacts, list[CheckResult]]] = {}

    @property
    def ok(self) -> bool:
        return self.count > 0 and self.failure_count == 0

    def _record(self, line: int, index: int | None, receipt_id: str | None, fails: list[tuple[str, str]]) -> None:
        if not fails:
            return
        self.failed_bundles += 1
        for check, detail in fails:
            self.failure_count += 1
            self.by_check[check] += 1
            if len(self.failures) < self.kept:
                self.failures.append(Failure(line, index, receipt_id, check, detail))

    def add_unreadable(self, line: int, why: str) -> None:
        """A line that is no bundle at all. It takes no index: if it stood for a delta, the next
        bundle reports the gap."""
        self.count += 1
        self._record(line, None, None, [("format", why)])

    def _chain_checks(self, b: Bundle) -> list[CheckResult]:
        """Section 4's on-chain checks. All but ``commitment`` depend only on the batch, the
        signer, chainId and contract, so they run once per batch; ``commitment`` includes the
        contract's ``verify`` of this bundle's proof and runs for every bundle."""
        contract = self.pinned if self.pinned is not None else b.contract
        key: tuple[object, ...] = (contract, b.chain_id, b.signer, b.batch_id, b.root, b.start_index, b.count)
        key += (b.tx_hash, b.block_number, b.block_hash)
        memo = self._batch_checks.get(key)
        if memo is None:
            facts = fetch_chain_facts(self.chain, b, contract)
            results = run_chain_checks(b, facts, self.required)
            self._batch_checks[key] = (facts, results)
            if len(self._batch_checks) > CHAIN_CACHE_SIZE:
                self._batch_checks.pop(next(iter(self._batch_checks)))
            return results
        facts, results = memo
        if self._in_verified_batch(b, results):
            return results  # the contract's verify rule, checked locally, holds: same results
        unreachable = isinstance(facts.chain_id, FetchError) and facts.verify is facts.chain_id
        verify = facts.verify if unreachable else self._verify(b, contract)
        commitment = check_commitment(b, replace(facts, verify=verify))
        return [commitment if r.name == "commitment" else r for r in results]

    @staticmethod
    def _in_verified_batch(b: Bundle, results: list[CheckResult]) -> bool:
        """The batch's commitment check passed (stored commitment matches, the contract's verify
        was true for its first bundle) and this bundle meets the rest of verify's rule: its log
        index is in the batch and its proof folds to the root."""
        return (
            all(r.ok for r in results if r.name == "commitment")
            and b.log_index is not None
            and b.start_index is not None
            and b.count is not None
            and b.fingerprint is not None
            and b.proof is not None
            and b.start_index <= b.log_index < b.start_index + b.count
            and proof_root(b.log_index, b.fingerprint, b.proof) == b.root
        )

    def _verify(self, b: Bundle, contract: bytes | None) -> bool | FetchError | None:
        if (
            contract is None
            or b.start_index is None
            or b.count is None
            or b.root is None
            or b.log_index is None
            or b.fingerprint is None
            or b.proof is None
        ):
            return None
        args = (contract, b.start_index, b.count, b.root, b.log_index, b.fingerprint, b.proof)
        return _attempt(lambda: self.chain.verify(*args), "verify")

    def add(self, line: int, b: Bundle) -> None:
        self.count += 1
        results = run_offline_checks(b, self.pinned, fast=True) + self._chain_checks(b)
        fails = [(r.name, r.detail) for r in results if not r.ok]
        m = b.message
        if m is not None:
            who = (m.tenant, m.customer_id)
            if self.customer is None:
                self.customer = who
            elif who != self.customer:
                fails.append(
                    (
                        "customer",
                        f"tenant/customerId is {_describe(m.tenant)}/{_describe(m.customer_id)}, "
                        f"{self.customer_from} is {_describe(self.customer[0])}/{_describe(self.customer[1])}",
                    )
                )
        if b.chain_id is not None and b.contract is not None:
            where = (b.chain_id, b.contract)
            if self.deployment is None:
                self.deployment = where
            elif where != self.deployment:
                fails.append(
                    (
                        "deployment",
                        f"chainId {b.chain_id} contract {hx(b.contract)}, {self.deployment_from} is chainId "
                        f"{self.deployment[0]} contract {hx(self.deployment[1])}",
                    )
                )
        index = bundle_index(b)
        in_sequence = self._sequence(b, index, fails)
        if m is not None and m.corrects != ZERO32 and m.corrects not in self.seen:
            fails.append(
                (
                    "corrects",
                    f"corrects {hx(m.corrects)} is not the fingerprint of an earlier delta of this export",
                )
            )
        if b.fingerprint is not None:
            self.seen.add(b.fingerprint)
        if in_sequence and index is not None:
            delta = m.delta if m is not None else None
            if delta is not None:
                self.balance += delta
            if self.on_delta is not None:
                self.on_delta(index, delta, b.fingerprint)
        self._record(line, index, b.receipt_id, fails)

    def _sequence(self, b: Bundle, index: int | None, fails: list[tuple[str, str]]) -> bool:
        """Place the bundle in the customer's chain; True when it extends it."""
        if index is None:  # the format check names it; like an unreadable line, it takes no index
            return False
        if index < self.next_index:
            fails.append(
                (
                    "order",
                    f"customerIndex {index} comes after {self.next_index - 1}: repeated or out of order",
                )
            )
            return False
        if index > self.next_index:
            first = self.next_index
            span = (
                f"customerIndex {first} is missing"
                if index == first + 1
                else (f"customerIndexes {first}..{index - 1} are missing ({index - first}), first missing {first}")
            )
            if first == 0:
                span += ": the export must start at customerIndex 0 to derive the balance"
            fails.append(("gap", span))
        else:
            want = ZERO32 if index == 0 else self.prev_fingerprint
            m = b.message
            if m is not None and want is not None and m.prev_fingerprint != want:
                previous = (
                    "32 zero bytes (customerIndex 0)"
                    if index == 0
                    else (f"the fingerprint of customerIndex {index - 1}, {hx(want)}")
                )
                fails.append(("link", f"prevFingerprint is {hx(m.prev_fingerprint)}, expected {previous}"))
        self.next_index = index + 1
        self.prev_fingerprint = b.fingerprint
        self.head_index, self.head_fingerprint = index, b.fingerprint
        return True

    def summary(self) -> str:
        if self.ok:
            return f"derived: balance {self.balance} over {self.count} verified deltas"
        checks = ", ".join(f"{name} ×{n}" for name, n in self.by_check.most_common())
        return (
            f"NOT DERIVED: {self.failure_count} failure(s) in {self.failed_bundles} of {self.count} "
            f"bundle(s) ({checks})"
        )

    def failures_json(self) -> dict[str, Any]:
        return {
            "failures": [f.to_json() for f in self.failures],
            "failureCount": self.failure_count,
            "failuresOmitted": self.failure_count - len(self.failures),
        }

    def print_failures(self, out: TextIO, limit: int | None = None) -> None:
        limit = PRINTED_FAILURES if limit is None else limit
        for failure in self.failures[:limit]:
            print(failure.describe(), file=out)
        if self.failure_count > limit:
            print(f"… and {self.failure_count - limit} more failure(s)", file=out)


def _decode_line(raw: bytes) -> tuple[dict[str, Any], list[str]] | str:
    """The bundle on one export line, or why the line is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: {exc}"
    duplicates: list[str] = []
    try:
        data = json.loads(text, object_pairs_hook=_duplicate_recorder(duplicates))
    except (ValueError, RecursionError) as exc:
        return f"not JSON: {exc}"
    if not isinstance(data, dict):
        return f"expected a proof bundle (a JSON object), got {_describe(data)}"
    return data, duplicates


def _open_export(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")
    except OSError as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc


def scan_export(
    source: str,
    checker: ExportChecker,
    *,
    progress: TextIO | None = None,
    stop_after: int | None = None,
) -> None:
    """Stream the JSON Lines export through ``checker``, a line at a time.

    ``stop_after``: stop at the first bundle whose customerIndex is beyond it (checkpoints).
    Raises UnusableInput when the file cannot be read, holds no bundle, or its first line is
    not a JSON object (so it is no JSON Lines export, e.g. a pretty-printed single bundle).
    """
    handle = _open_export(source)
    started = time.monotonic()
    seen_any = False
    try:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            decoded = _decode_line(raw)
            if isinstance(decoded, str):
                if not seen_any:
                    raise UnusableInput(f"{source} line {line_no} is {decoded}; expected JSON Lines (a bundle a line)")
                checker.add_unreadable(line_no, decoded)
            else:
                b = parse_bundle(*decoded)
                if stop_after is not None:
                    index = bundle_index(b)
                    if index is not None and index > stop_after:
                        break
                checker.add(line_no, b)
            seen_any = True
            if progress is not None and checker.count % PROGRESS_EVERY == 0:
                rate = checker.count / max(time.monotonic() - started, 1e-9)
                print(f"checked {checker.count:,} bundles ({rate:,.0f}/s)", file=progress, flush=True)
    except OSError as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    if not seen_any:
        raise UnusableInput(f"{source} holds no bundle")


# --- checkpoints (section 5) -----------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A decoded proofToken."""

    tenant: str
    customer_id: str
    from_index: int
    to_index: int
    count: int
    opening_balance: int
    net: int
    closing_balance: int
    range_root: bytes
    head_fingerprint: bytes
    created_at: int
    chain_id: int
    contract: bytes
    node_signature: bytes
    countersignature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "customerId": self.customer_id,
            "fromIndex": self.from_index,
            "toIndex": self.to_index,
            "count": self.count,
            "openingBalance": str(self.opening_balance),
            "net": str(self.net),
            "closingBalance": str(self.closing_balance),
            "rangeRoot": hx(self.range_root),
            "headFingerprint": hx(self.head_fingerprint),
            "createdAt": self.created_at,
            "chainId": self.chain_id,
            "verifyingContract": hx(self.contract),
            "nodeSignature": hx(self.node_signature),
            "countersignature": hx(self.countersignature) if self.countersignature else None,
        }


def read_token(argument: str) -> bytes:
    """The proofToken bytes from ``0x…`` or ``@file``; raises UnusableInput."""
    text = argument
    if argument.startswith("@"):
        try:
            text = Path(argument[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UnusableInput(f"cannot read {argument[1:]}: {exc}") from exc
    text = text.strip()
    if not re.fullmatch(r"0x(?:[0-9a-fA-F]{2})+", text):
        raise UnusableInput(f"the token is not 0x-prefixed hex bytes: {_describe(text)}")
    return bytes.fromhex(text[2:])


def decode_token(data: bytes) -> Token:
    """Decode ``0x01 ‖ abi.encode(…15 fields…)``; raises ValueError naming the problem."""
    if not data:
        raise ValueError("the token is empty")
    if data[0] != TOKEN_VERSION:
        raise ValueError(f"token version byte is 0x{data[0]:02x}, this verifier knows 0x{TOKEN_VERSION:02x}")
    body = data[1:]
    try:
        values = decode(TOKEN_TYPES, body)
    except Exception as exc:
        raise ValueError(f"not abi.encode of section 5's 15 fields: {type(exc).__name__}: {exc}") from exc
    if encode(TOKEN_TYPES, list(values)) != body:
        raise ValueError("not the canonical abi.encode of its fields (extra, padded or rearranged bytes)")
    tenant, customer, from_index, to_index, count, opening, net, closing, root, head, created = values[:11]
    chain_id, contract, node_signature, countersignature = values[11:]
    return Token(
        tenant=tenant,
        customer_id=customer,
        from_index=from_index,
        to_index=to_index,
        count=count,
        opening_balance=opening,
        net=net,
        closing_balance=closing,
        range_root=bytes(root),
        head_fingerprint=bytes(head),
        created_at=created,
        chain_id=chain_id,
        contract=bytes.fromhex(contract[2:]),
        node_signature=bytes(node_signature),
        countersignature=bytes(countersignature),
    )


def checkpoint_digest(t: Token) -> bytes:
    """The checkpoint's EIP-712 digest by hand (section 5's type, section 1's domain and rules)."""
    struct_hash = k256(
        CHECKPOINT_TYPE_HASH
        + k256(t.tenant.encode("utf-8"))
        + k256(t.customer_id.encode("utf-8"))
        + t.from_index.to_bytes(32, "big")
        + t.to_index.to_bytes(32, "big")
        + t.count.to_bytes(32, "big")
        + t.opening_balance.to_bytes(32, "big", signed=True)
        + t.net.to_bytes(32, "big", signed=True)
        + t.closing_balance.to_bytes(32, "big", signed=True)
        + t.range_root
        + t.head_fingerprint
        + t.created_at.to_bytes(32, "big")
    )
    return k256(b"\x19\x01" + domain_separator(t.chain_id, t.contract) + struct_hash)


def checkpoint_typed_data(t: Token) -> dict[str, Any]:
    """The checkpoint as EIP-712 typed data JSON (what ``eth_signTypedData_v4`` signs)."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Checkpoint": CHECKPOINT_FIELDS},
        "primaryType": "Checkpoint",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": t.chain_id,
            "verifyingContract": hx(t.contract),
        },
        "message": {
            "tenant": t.tenant,
            "customerId": t.customer_id,
            "fromIndex": t.from_index,
            "toIndex": t.to_index,
            "count": t.count,
            "openingBalance": t.opening_balance,
            "net": t.net,
            "closingBalance": t.closing_balance,
            "rangeRoot": hx(t.range_root),
            "headFingerprint": hx(t.head_fingerprint),
            "createdAt": t.created_at,
        },
    }


@dataclass
class RangeSums:
    """What a checkpoint states, recomputed from the export's in-sequence deltas."""

    from_index: int
    to_index: int
    opening: int = 0
    opening_deltas: int = 0
    net: int = 0
    net_deltas: int = 0
    leaves: list[tuple[int, bytes]] = field(default_factory=list)
    head: bytes | None = None

    def __call__(self, index: int, delta: int | None, fingerprint: bytes | None) -> None:
        if index < self.from_index:
            if delta is not None:
                self.opening += delta
                self.opening_deltas += 1
        elif index <= self.to_index:
            if delta is not None:
                self.net += delta
                self.net_deltas += 1
            if fingerprint is not None:
                self.leaves.append((index, fingerprint))
            if index == self.to_index:
                self.head = fingerprint


INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1


@dataclass
class CheckpointOutcome:
    results: list[CheckResult]
    signer: bytes | None = None
    countersigner: bytes | None = None


def _cp_token(t: Token, pinned: bytes | None) -> CheckResult:
    if pinned is not None and t.contract != pinned:
        return CheckResult(
            "token", False, f"verifyingContract {hx(t.contract)} is not the pinned contract {hx(pinned)}"
        )
    last_second = 253402300799  # 9999-12-31T23:59:59Z, the last time datetime can show
    when = (
        datetime.fromtimestamp(t.created_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if t.created_at <= last_second
        else "?"
    )
    return CheckResult(
        "token",
        True,
        f"v1 checkpoint of {_describe(t.tenant)}/{_describe(t.customer_id)} deltas {t.from_index}..{t.to_index}, "
        f"chain {t.chain_id}, contract {hx(t.contract)}, created {t.created_at} ({when})",
    )


def _cp_signature(t: Token) -> tuple[CheckResult, bytes | None]:
    problem = signature_problem(t.node_signature)
    if problem:
        return CheckResult("signature", False, f"node signature: {problem}"), None
    digest = checkpoint_digest(t)
    try:
        signable = encode_typed_data(full_message=checkpoint_typed_data(t))
        library = keccak(b"\x19" + signable.version + signable.header + signable.body)
    except Exception as exc:
        return CheckResult("signature", False, f"eth-account cannot encode the checkpoint: {exc}"), None
    if library != digest:
        return CheckResult(
            "signature",
            False,
            f"eth-account's EIP-712 digest {hx(library)} differs from section 5's formulas {hx(digest)}",
        ), None
    try:
        signer = recover_signer(digest, t.node_signature, fast=False)
    except Exception as exc:
        return CheckResult("signature", False, f"cannot recover a signer: {exc}"), None
    return CheckResult(
        "signature", True, f"node signature over checkpoint digest {hx(digest)} recovers to {hx(signer)}"
    ), signer


def _cp_anchorer(t: Token, signer: bytes | None, chain: ChainSource, contract: bytes) -> CheckResult:
    if signer is None:
        return CheckResult("anchorer", False, "skipped: no node signer recovered (see signature)")
    try:
        rpc_chain = chain.chain_id()
        if rpc_chain != t.chain_id:
            return CheckResult("anchorer", False, f"RPC chain id is {rpc_chain}, the token's chainId is {t.chain_id}")
        if chain.code_size(contract) == 0:
            return CheckResult("anchorer", False, f"no contract code at {hx(contract)} on this chain")
        authorised = chain.is_anchorer(contract, signer)
    except OSError as exc:
        return CheckResult("anchorer", False, f"RPC unreachable at {chain.url} ({type(exc).__name__})")
    except Exception as exc:
        return CheckResult("anchorer", False, f"isAnchorer failed: {type(exc).__name__}: {exc}")
    if not authorised:
        return CheckResult(
            "anchorer",
            False,
            f"isAnchorer({hx(signer)}) is false on {hx(contract)}: the node signature is not by an authorised "
            "anchorer (an altered token recovers to an unrelated address)",
        )
    return CheckResult(
        "anchorer", True, f"{hx(signer)} is an authorised anchorer of {hx(contract)} on chain {rpc_chain}"
    )


def _cp_countersignature(t: Token) -> tuple[CheckResult, bytes | None]:
    if not t.countersignature:
        return CheckResult("countersignature", True, "not countersigned"), None
    signature = t.countersignature
    if len(signature) == 65 and signature[64] in (0, 1):  # some wallets return v as 0/1
        signature = signature[:64] + bytes([signature[64] + 27])
    problem = signature_problem(signature, low_s=False)
    if problem:
        return CheckResult("countersignature", False, problem), None
    try:
        countersigner = recover_signer(checkpoint_digest(t), signature, fast=False)
    except Exception as exc:
        return CheckResult("countersignature", False, f"cannot recover a countersigner: {exc}"), None
    return CheckResult(
        "countersignature",
        True,
        f"countersigned by {hx(countersigner)} (whether that is the customer's key is for you to decide)",
    ), countersigner


def _cp_export(checker: ExportChecker) -> CheckResult:
    if checker.failure_count:
        checks = ", ".join(f"{name} ×{n}" for name, n in checker.by_check.most_common())
        return CheckResult(
            "export",
            False,
            f"{checker.failure_count} failure(s) in {checker.failed_bundles} of {checker.count} bundle(s): {checks}",
        )
    return CheckResult(
        "export",
        True,
        f"{checker.count} bundle(s), customerIndex 0..{checker.head_index}: every section 4 check, links, corrects",
    )


def _cp_range(t: Token, checker: ExportChecker) -> CheckResult:
    if t.from_index > t.to_index:
        return CheckResult("range", False, f"fromIndex {t.from_index} is after toIndex {t.to_index}")
    if t.count != t.to_index - t.from_index + 1:
        return CheckResult(
            "range", False, f"count is {t.count}, toIndex - fromIndex + 1 is {t.to_index - t.from_index + 1}"
        )
    if checker.head_index != t.to_index:
        return CheckResult(
            "range",
            False,
            f"the export ends at customerIndex {checker.head_index}, the checkpoint needs 0..{t.to_index}",
        )
    return CheckResult(
        "range", True, f"{t.count} delta(s) {t.from_index}..{t.to_index}; the export reaches {t.to_index}"
    )


def _cp_sums(t: Token, sums: RangeSums) -> list[CheckResult]:
    out: list[CheckResult] = []
    opening_ok = sums.opening_deltas == t.from_index
    net_ok = t.count == t.to_index - t.from_index + 1 and sums.net_deltas == t.count
    if not opening_ok:
        out.append(
            CheckResult(
                "opening",
                False,
                f"cannot recompute: the export has {sums.opening_deltas} of the {t.from_index} delta(s) before "
                f"fromIndex",
            )
        )
    elif sums.opening != t.opening_balance:
        out.append(
            CheckResult(
                "opening",
                False,
                f"deltas 0..{t.from_index - 1} sum to {sums.opening}, openingBalance is {t.opening_balance}",
            )
        )
    else:
        out.append(CheckResult("opening", True, f"deltas before {t.from_index} sum to {sums.opening}"))
    if not net_ok:
        out.append(
            CheckResult(
                "net",
                False,
                f"cannot recompute: the export has {sums.net_deltas} delta(s) in {t.from_index}..{t.to_index}",
            )
        )
    elif sums.net != t.net:
        out.append(CheckResult("net", False, f"deltas {t.from_index}..{t.to_index} sum to {sums.net}, net is {t.net}"))
    else:
        out.append(CheckResult("net", True, f"deltas {t.from_index}..{t.to_index} sum to {sums.net}"))
    closing = sums.opening + sums.net
    stated = t.opening_balance + t.net
    if not (opening_ok and net_ok):
        out.append(CheckResult("closing", False, "cannot recompute: opening or net could not be recomputed"))
    elif not all(INT256_MIN <= value <= INT256_MAX for value in (sums.opening, sums.net, closing)):
        out.append(
            CheckResult(
                "closing",
                False,
                f"the recomputed sums leave int256 (opening {sums.opening}, net {sums.net}, closing {closing})",
            )
        )
    elif closing != t.closing_balance:
        note = "" if stated == t.closing_balance else f"; the token's own openingBalance + net is {stated}"
        out.append(
            CheckResult("closing", False, f"opening + net is {closing}, closingBalance is {t.closing_balance}{note}")
        )
    elif stated != t.closing_balance:
        out.append(
            CheckResult(
                "closing", False, f"the token's openingBalance + net is {stated}, closingBalance is {t.closing_balance}"
            )
        )
    else:
        out.append(CheckResult("closing", True, f"opening {sums.opening} + net {sums.net} = {closing}"))
    if not net_ok or len(sums.leaves) != t.count:
        out.append(
            CheckResult(
                "root",
                False,
                f"cannot recompute: the export has {len(sums.leaves)} fingerprint(s) in {t.from_index}..{t.to_index}",
            )
        )
    else:
        root = standard_tree_root(sums.leaves)
        if root != t.range_root:
            out.append(
                CheckResult(
                    "root",
                    False,
                    f"StandardMerkleTree of (customerIndex, fingerprint) over {t.from_index}..{t.to_index} is "
                    f"{hx(root)}, rangeRoot is {hx(t.range_root)}",
                )
            )
        else:
            out.append(CheckResult("root", True, f"{hx(root)} over {t.count} leaf/leaves"))
    if sums.head is None:
        out.append(CheckResult("head", False, f"cannot recompute: no fingerprint at customerIndex {t.to_index}"))
    elif sums.head != t.head_fingerprint:
        out.append(
            CheckResult(
                "head",
                False,
                f"the fingerprint at customerIndex {t.to_index} is {hx(sums.head)}, headFingerprint is "
                f"{hx(t.head_fingerprint)}",
            )
        )
    else:
        out.append(CheckResult("head", True, f"customerIndex {t.to_index} is {hx(sums.head)}"))
    return out


def run_checkpoint_checks(
    t: Token,
    checker: ExportChecker,
    sums: RangeSums,
    contract: bytes,
    pinned: bytes | None,
) -> CheckpointOutcome:
    """The checkpoint checks, once the export (0..toIndex) has gone through ``checker``."""
    signature, signer = _cp_signature(t)
    countersignature, countersigner = _cp_countersignature(t)
    results = [
        _cp_token(t, pinned),
        signature,
        _cp_anchorer(t, signer, checker.chain, contract),
        countersignature,
        _cp_export(checker),
        _cp_range(t, checker),
        *_cp_sums(t, sums),
    ]
    return CheckpointOutcome(results, signer, countersigner)


def checkpoint_summary(t: Token | None, outcome: CheckpointOutcome) -> str:
    failed = [r.name for r in outcome.results if not r.ok]
    if failed or t is None:
        return f"CHECKPOINT NOT VERIFIED: {len(failed)} of {len(outcome.results)} checks failed ({', '.join(failed)})"
    counter = f"countersigned by {hx(outcome.countersigner)}" if outcome.countersigner else "not countersigned"
    return (
        f"checkpoint verified: {t.tenant}/{t.customer_id} deltas {t.from_index}..{t.to_index}, opening "
        f"{t.opening_balance}, net {t.net}, closing {t.closing_balance}; signed by anchorer "
        f"{_hx_opt(outcome.signer)}, {counter}"
    )


# --- CLI -------------------------------------------------------------------------------------


def _duplicate_recorder(found: list[str]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)  # the last value wins, as in json.loads
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    found.append(key)
                seen.add(key)
        return out

    return hook


def load_bundle(source: str) -> tuple[object, list[str]]:
    """Read and decode the bundle (``-`` = stdin); raises UnusableInput. Returns duplicates too."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc
    duplicates: list[str] = []
    try:
        data = json.loads(text, object_pairs_hook=_duplicate_recorder(duplicates))
    except (ValueError, RecursionError) as exc:
        raise UnusableInput(f"{source} is not JSON: {exc}") from exc
    return data, duplicates


def summary_line(results: list[CheckResult]) -> str:
    failed = [r.name for r in results if not r.ok]
    if not failed:
        return f"verified: all {len(results)} checks passed"
    return f"NOT VERIFIED: {len(failed)} of {len(results)} checks failed ({', '.join(failed)})"


def _parse_address(text: str) -> bytes:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise argparse.ArgumentTypeError(f"not a 20-byte 0x address: {text}")
    return bytes.fromhex(text[2:])


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


MODES_HELP = """modes:
  verify_receipt.py BUNDLE.json [--rpc URL] ...
      one proof bundle (section 4): 14 checks
  verify_receipt.py derive EXPORT.jsonl [--rpc URL] [--contract 0x..] [--confirmations N] [--json] [--quiet]
      a customer's balance from an export (section 6), every bundle checked, the chain linked
  verify_receipt.py checkpoint TOKEN --export EXPORT.jsonl [--rpc URL] [--contract 0x..] [--json]
      a checkpoint proofToken (section 5; TOKEN is 0x… or @file) against the customer's export
run "verify_receipt.py derive --help" or "verify_receipt.py checkpoint --help" for their options.
exit status: 0 verified, 1 some check failed, 2 unusable input."""


def _add_chain_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--rpc",
        default=os.environ.get("PACSPACE_RPC_URL") or DEFAULT_RPC,
        help="JSON-RPC URL of the anchor chain (env PACSPACE_RPC_URL, default %(default)s)",
    )
    parser.add_argument(
        "--contract",
        type=_parse_address,
        default=None,
        help=f"the anchor contract you trust; {what} must name it",
    )
    parser.add_argument("--confirmations", type=_non_negative, default=1, help="required confirmations (1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Verify a PacSpace proof bundle (pacspace.proof.v1) against the chain.",
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", help="proof bundle JSON file, or - for stdin")
    _add_chain_options(parser, "the bundle")
    parser.add_argument(
        "--explorer",
        default=os.environ.get("PACSPACE_EXPLORER_URL") or None,
        help="block explorer base URL (env PACSPACE_EXPLORER_URL) for links",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    return parser


def _links(explorer: str | None, b: Bundle, contract: bytes | None) -> dict[str, str]:
    if not explorer:
        return {}
    base = explorer.rstrip("/")
    links: dict[str, str] = {}
    if b.tx_hash is not None:
        links["transaction"] = f"{base}/tx/{hx(b.tx_hash)}"
    if contract is not None:
        links["contract"] = f"{base}/address/{hx(contract)}"
    return links


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    if argv and argv[0] == "derive":
        return main_derive(argv[1:])
    if argv and argv[0] == "checkpoint":
        return main_checkpoint(argv[1:])
    return main_bundle(argv)


def build_derive_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify_receipt.py derive",
        description=(
            "Derive a customer's balance from an export (GET /v1/balance/export, JSON Lines, section 6): "
            "every bundle gets section 4's checks (chain facts fetched once per batch), and across bundles "
            "customerIndex must run 0, 1, 2, … with each prevFingerprint linking, corrects must name an earlier "
            "delta, and one tenant, customer, chain and contract."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", help="the export, JSON Lines (one proof bundle a line), or - for stdin")
    _add_chain_options(parser, "every bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _contract_origin(pinned: bytes | None, source: str) -> str:
    return "pinned by --contract" if pinned is not None else f"taken from the {source}; pin it with --contract"


def main_derive(argv: list[str]) -> int:
    args = build_derive_parser().parse_args(argv)
    pinned: bytes | None = args.contract
    checker = ExportChecker(RpcChain(args.rpc), pinned, args.confirmations)
    try:
        scan_export(args.export, checker, progress=None if args.quiet else sys.stderr)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    contract = pinned if pinned is not None else (checker.deployment[1] if checker.deployment else None)
    head = _hx_opt(checker.head_fingerprint) if checker.head_index is not None else None
    if args.json:
        report: dict[str, Any] = {
            "ok": checker.ok,
            "count": checker.count,
            "balance": str(checker.balance),
            "headIndex": checker.head_index,
            "headFingerprint": head,
            **checker.failures_json(),
            "tenant": checker.customer[0] if checker.customer else None,
            "customerId": checker.customer[1] if checker.customer else None,
            "chainId": checker.deployment[0] if checker.deployment else None,
            "contract": _hx_opt(contract) if contract is not None else None,
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": checker.summary(),
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if checker.ok else 1
    print(f"export: {args.export}")
    print(f"contract: {_hx_opt(contract)} ({_contract_origin(pinned, 'export')})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    if checker.customer is not None:
        chain = f" on chain {checker.deployment[0]}" if checker.deployment else ""
        print(f"customer: {checker.customer[0]}/{checker.customer[1]}{chain}")
    print(f"bundles: {checker.count}")
    print(f"balance: {checker.balance}")
    print(f"head: customerIndex {checker.head_index}, fingerprint {head}")
    checker.print_failures(sys.stdout)
    print(checker.summary())
    return 0 if checker.ok else 1


def build_checkpoint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify_receipt.py checkpoint",
        description=(
            "Verify a checkpoint proofToken (section 5) against the customer's export: the node signature "
            "recovers to an authorised anchorer, the export (customerIndex 0..toIndex, later lines ignored) "
            "passes every derive check, and the opening, net and closing balances, count, rangeRoot and "
            "headFingerprint recompute. A countersignature's address is printed."
        ),
        epilog=MODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("token", help="the proofToken, 0x-prefixed hex, or @FILE to read it from a file")
    parser.add_argument("--export", required=True, help="the customer's export, JSON Lines, or - for stdin")
    _add_chain_options(parser, "the token and every bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main_checkpoint(argv: list[str]) -> int:
    args = build_checkpoint_parser().parse_args(argv)
    pinned: bytes | None = args.contract
    try:
        data = read_token(args.token)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token: Token | None = None
    checker: ExportChecker | None = None
    try:
        token = decode_token(data)
    except ValueError as exc:
        skipped = "skipped: the token cannot be decoded"
        outcome = CheckpointOutcome(
            [CheckResult("token", False, str(exc))]
            + [CheckResult(name, False, skipped) for name in CHECKPOINT_CHECKS[1:]]
        )
    else:
        contract = pinned if pinned is not None else token.contract
        sums = RangeSums(token.from_index, token.to_index)
        checker = ExportChecker(
            RpcChain(args.rpc),
            contract,
            args.confirmations,
            customer=(token.tenant, token.customer_id),
            deployment=(token.chain_id, token.contract),
            on_delta=sums,
        )
        try:
            scan_export(args.export, checker, progress=None if args.quiet else sys.stderr, stop_after=token.to_index)
        except UnusableInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        outcome = run_checkpoint_checks(token, checker, sums, contract, pinned)
    ok = all(r.ok for r in outcome.results)
    summary = checkpoint_summary(token, outcome)
    contract_shown = pinned if pinned is not None else (token.contract if token else None)
    if args.json:
        report: dict[str, Any] = {
            "ok": ok,
            "checks": [r.to_json() for r in outcome.results],
            "checkpoint": token.to_json() if token else None,
            "signer": _hx_opt(outcome.signer) if outcome.signer else None,
            "countersigner": _hx_opt(outcome.countersigner) if outcome.countersigner else None,
            "count": checker.count if checker else 0,
            "headIndex": checker.head_index if checker else None,
            "headFingerprint": _hx_opt(checker.head_fingerprint) if checker and checker.head_fingerprint else None,
            **(checker.failures_json() if checker else {"failures": [], "failureCount": 0, "failuresOmitted": 0}),
            "contract": _hx_opt(contract_shown) if contract_shown else None,
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    if token is not None:
        print(
            f"checkpoint: {token.tenant}/{token.customer_id} deltas {token.from_index}..{token.to_index} "
            f"(count {token.count}), opening {token.opening_balance}, net {token.net}, "
            f"closing {token.closing_balance}"
        )
    print(f"contract: {_hx_opt(contract_shown)} ({_contract_origin(pinned, 'token')})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    print(f"signer: {_hx_opt(outcome.signer)}")
    print(f"countersigner: {hx(outcome.countersigner) if outcome.countersigner else 'not countersigned'}")
    for r in outcome.results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    if checker is not None:
        checker.print_failures(sys.stdout)
    print(summary)
    return 0 if ok else 1


def main_bundle(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        raw, duplicates = load_bundle(args.bundle)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pinned: bytes | None = args.contract
    b = parse_bundle(raw, duplicates)
    contract = pinned if pinned is not None else b.contract
    results = run_all_checks(b, RpcChain(args.rpc), pinned, args.confirmations)
    ok = all(r.ok for r in results)
    links = _links(args.explorer, b, contract)
    if args.json:
        report: dict[str, Any] = {
            "ok": ok,
            "checks": [r.to_json() for r in results],
            "contract": _hx_opt(contract),
            "contractPinned": pinned is not None,
            "rpc": args.rpc,
            "summary": summary_line(results),
        }
        if links:
            report["links"] = links
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    origin = "pinned by --contract" if pinned is not None else "taken from the bundle; pin it with --contract"
    print(f"bundle: {b.receipt_id or '?'} ({b.version or '?'})")
    print(f"contract: {_hx_opt(contract)} ({origin})")
    print(f"rpc: {args.rpc}; confirmations required: {args.confirmations}")
    for r in results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    for name, url in links.items():
        print(f"{name}: {url}")
    print(summary_line(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
