"""Chain access: the ``ChainSource`` the on-chain checks need, ``RpcChain``, facts.

``RpcChain`` is the only code that talks to a node; ``CachedChain`` (cached_chain.py) wraps any source for exports,
where thousands of bundles share a few chain facts. ``fetch_chain_facts`` asks a source what the
on-chain checks of one bundle need and never raises: a failed call is kept as a ``FetchError``
for the check that needed it to report.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

from pacspace_verify.bundle import Bundle
from pacspace_verify.protocol import describe, hx

T = TypeVar("T")


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
    def protocol_version(self, contract: bytes) -> int: ...
    def is_signer_for(self, contract: bytes, signer: bytes, log_index: int) -> bool: ...
    def signer_window(self, contract: bytes, signer: bytes) -> tuple[int, int, bool]: ...
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
        raise RpcError(f"{what}: expected hex data, got {describe(value)}")
    return bytes.fromhex(value[2:])


def _hex_to_int(value: object, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"{what}: expected a hex quantity, got {describe(value)}")
    return int(value, 16)


class RpcChain:
    """Raw JSON-RPC over HTTP(S) with the standard library (no formatters, so PoA chains work).

    An unreachable endpoint, a timeout or an HTTP error status raises an ``OSError`` (urllib's
    ``URLError``); ``user:password@`` in the URL is sent as basic authentication.
    """

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url
        self._timeout = timeout
        parts = urllib.parse.urlsplit(url)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._endpoint = url
        if parts.username is not None:
            netloc = parts.hostname or ""
            netloc = f"[{netloc}]" if ":" in netloc else netloc
            netloc += f":{parts.port}" if parts.port is not None else ""
            self._endpoint = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {credentials}"
        self._scheme_ok = parts.scheme in ("http", "https")
        self._next_id = 0

    def _rpc(self, method: str, params: list[Any]) -> Any:
        if not self._scheme_ok:  # never file:// and the like
            raise urllib.error.URLError(f"{self.url} is not an http:// or https:// URL")
        self._next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": self._next_id}).encode()
        # S310: the scheme is http or https, checked above
        request = urllib.request.Request(self._endpoint, data=body, headers=self._headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=self._timeout) as reply:  # noqa: S310
            response = json.loads(reply.read())
        if not isinstance(response, dict):
            raise RpcError(f"{method}: unexpected {describe(response)}")
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

    def protocol_version(self, contract: bytes) -> int:
        """``protocolVersion()`` of a v2 (or later) contract; 1 when the call reverts (v1 has no such function)."""
        try:
            out = self._call(contract, _selector("protocolVersion()"))
        except RpcError as exc:
            if "revert" in str(exc).lower():
                return 1
            raise
        return 1 if not out else int(decode(["uint256"], out)[0])

    def is_signer_for(self, contract: bytes, signer: bytes, log_index: int) -> bool:
        data = _selector("isSignerFor(address,uint64)") + encode(["address", "uint64"], [signer, log_index])
        return bool(decode(["bool"], self._call(contract, data))[0])

    def signer_window(self, contract: bytes, signer: bytes) -> tuple[int, int, bool]:
        """``signerWindow(signer)``: (fromIndex, untilIndex, exists) of a v2 contract."""
        out = self._call(contract, _selector("signerWindow(address)") + encode(["address"], [signer]))
        from_index, until_index, exists = decode(["uint64", "uint64", "bool"], out)
        return int(from_index), int(until_index), bool(exists)

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
            raise RpcError(f"eth_getTransactionReceipt: unexpected {describe(raw)}")
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
            raise RpcError(f"eth_getBlockByNumber: unexpected {describe(raw)}")
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
    # Protocol v2's signer rule: the contract's protocolVersion() and isSignerFor(signer, logIndex).
    protocol_version: int | FetchError | None = None
    signer_for: bool | FetchError | None = None
    commitment: bytes | FetchError | None = None
    verify: bool | FetchError | None = None
    receipt: TxReceipt | FetchError | None = None
    receipt_missing: bool = False
    block_hash: bytes | FetchError | None = None
    block_missing: bool = False
    head: int | FetchError | None = None


def attempt(fn: Callable[[], T], what: str) -> T | FetchError:
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
        facts.protocol_version = facts.signer_for = unreachable
        facts.commitment = facts.verify = facts.receipt = unreachable
        facts.block_hash = facts.head = unreachable
        return facts
    except Exception as exc:
        facts.chain_id = FetchError(f"eth_chainId failed at {chain.url}: {exc}")
    if contract is not None:
        facts.code_size = attempt(lambda: chain.code_size(contract), "eth_getCode")
        if b.signer is not None:
            signer = b.signer
            if b.protocol is not None and b.protocol.signer_window:
                facts.protocol_version = attempt(lambda: chain.protocol_version(contract), "protocolVersion")
                if b.log_index is not None:
                    log_index = b.log_index
                    facts.signer_for = attempt(lambda: chain.is_signer_for(contract, signer, log_index), "isSignerFor")
            else:
                facts.is_anchorer = attempt(lambda: chain.is_anchorer(contract, signer), "isAnchorer")
                # A v1 bundle is only valid against a v1 contract: on a v2 contract isAnchorer names gas
                # wallets, which have no say over receipts. No answer (a v1 contract reverts) means v1.
                facts.protocol_version = attempt(lambda: chain.protocol_version(contract), "protocolVersion")
        if b.start_index is not None:
            start = b.start_index
            facts.commitment = attempt(lambda: chain.batch_commitment(contract, start), "batchCommitment")
        if (
            b.start_index is not None
            and b.count is not None
            and b.root is not None
            and b.log_index is not None
            and b.fingerprint is not None
            and b.proof is not None
        ):
            args = (b.start_index, b.count, b.root, b.log_index, b.fingerprint, b.proof)
            facts.verify = attempt(lambda: chain.verify(contract, *args), "verify")
    if b.tx_hash is not None:
        tx_hash = b.tx_hash
        receipt = attempt(lambda: chain.transaction_receipt(tx_hash), "eth_getTransactionReceipt")
        facts.receipt_missing = receipt is None
        facts.receipt = receipt
    if b.block_number is not None:
        number = b.block_number
        block = attempt(lambda: chain.block_hash(number), "eth_getBlockByNumber")
        facts.block_missing = block is None
        facts.block_hash = block
    facts.head = attempt(chain.head, "eth_blockNumber")
    return facts
