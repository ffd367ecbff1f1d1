"""What docs/PROTOCOL.md fixes: constants, type strings, hashing, the Merkle tree, canonical JSON.

Sections 1 to 3 as code, with no I/O: the EIP-712 domain and the Delta and Checkpoint types,
Keccak-256 (safe-pysha3 when installed), leaves, sorted-pair folding, StandardMerkleTree roots,
batch commitments, section 1's rules for a 65-byte signature and its recovery (coincurve when
installed), and canonical JSON for metadata. ``CheckResult`` is what every check returns.
"""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

# --- constants from docs/PROTOCOL.md ---------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One protocol version (docs/PROTOCOL.md, "Protocol versions"): what a bundle or token of it is
    checked by. Versions are only ever added; a verifier keeps every one it has known."""

    number: int
    bundle_version: str  # the bundle's "version"
    domain_version: str  # EIP-712 domain "version"
    token_version: int  # a checkpoint proofToken's first byte
    # v1: the contract's isAnchorer(signer) now; v2: isSignerFor(signer, logIndex) on a contract
    # whose protocolVersion() is 2 (a window by log index that revocation never shrinks into the past).
    signer_window: bool


VERSIONS: dict[int, Version] = {
    1: Version(1, "pacspace.proof.v1", "1", 0x01, signer_window=False),
    2: Version(2, "pacspace.proof.v2", "2", 0x02, signer_window=True),
}
BY_BUNDLE_VERSION = {v.bundle_version: v for v in VERSIONS.values()}
BY_TOKEN_VERSION = {v.token_version: v for v in VERSIONS.values()}
V1 = VERSIONS[1]

BUNDLE_VERSION = V1.bundle_version
DOMAIN_NAME = "PacSpace"
DOMAIN_VERSION = V1.domain_version
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


def hx_opt(data: bytes | None) -> str:
    return hx(data) if data is not None else "?"


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def describe(value: object) -> str:
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
def domain_separator(chain_id: int, contract: bytes, version: str = DOMAIN_VERSION) -> bytes:
    """EIP-712 domain separator of ``{name: "PacSpace", version, chainId, verifyingContract}``."""
    return k256(
        keccak(text=DOMAIN_TYPE)
        + keccak(text=DOMAIN_NAME)
        + keccak(text=version)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + contract
    )


# --- signatures (section 1) ------------------------------------------------------------------


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
