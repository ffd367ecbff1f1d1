"""Keys off the node: an external signer over JSON-RPC for either key.

- ``RemoteTransactionSigner`` has the anchoring transaction signed with ``eth_signTransaction`` (as
  Web3Signer, Clef and Anvil's unlocked accounts serve it). The node then decodes what came back and
  refuses it unless it is exactly the transaction asked for, signed by the configured address.
- ``RemoteTypedDataSigner`` has each receipt (and checkpoint) signed with ``eth_signTypedData_v4``. The
  signer is sent the full typed data, every delta's fields included (tenant, customer, amount, reason,
  reference), so it must be the operator's own service on the operator's own network, never a third
  party's. The node recovers the signer from each signature over the digest it computed itself, so a
  signer that hashed something else, or holds another key, is caught before anything is stored.

Requests go in JSON-RPC batches (up to ``BATCH``), one HTTP round trip per batch; a signer that does
not take batches is asked one request at a time. The URL may carry a token: it is never logged.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3

from node.chain.providers import redact_url
from node.core.errors import PacSpaceError
from node.core.hashing import keccak256, to_hex
from node.core.signing import SigningRequest, recover_signer

BATCH = 200
_TX_NUMBERS = ("chainId", "nonce", "value", "gas", "maxFeePerGas", "maxPriorityFeePerGas")
_TX_BYTES = ("to", "data")
_CHECK_TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    "SignerCheck": [{"name": "purpose", "type": "string"}],
}


class RemoteSignerError(PacSpaceError):
    """The external signer could not be reached, refused, or returned something the node does not accept."""

    code = "signer_unavailable"
    status = 503
    title = "Signer unavailable"


class RemoteSignerRefused(RemoteSignerError):
    """The external signer answered with a JSON-RPC error (it is reachable, and said no)."""


@dataclass(frozen=True)
class SignedTx:
    hash: bytes
    raw_transaction: bytes


class _JsonRpc:
    """A small JSON-RPC client over one keep-alive HTTP connection pool (thread-safe)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self.shown = redact_url(url)
        self._http = httpx.Client(timeout=timeout, headers={"content-type": "application/json"})
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.batches_supported = True

    def _post(self, body: object) -> Any:
        try:
            response = self._http.post(self._url, content=json.dumps(body))
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            kind = f"{type(exc).__name__} {status}" if status else type(exc).__name__
            raise RemoteSignerError(f"the external signer at {self.shown} failed: {kind}") from None

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def call(self, method: str, params: list[Any]) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": params})
        return self._result(method, reply)

    def call_many(self, method: str, params_list: Sequence[list[Any]]) -> list[Any]:
        if not params_list:
            return []
        if len(params_list) == 1 or not self.batches_supported:
            return [self.call(method, params) for params in params_list]
        ids = [self._next_id() for _ in params_list]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in zip(ids, params_list, strict=True)
        ]
        try:
            reply = self._post(body)
        except RemoteSignerError:
            reply = None  # an HTTP error for a batch: perhaps a signer that takes none
        if not isinstance(reply, list):  # or one that answers a batch with one error object
            results = [self.call(method, params) for params in params_list]
            self.batches_supported = False  # one at a time worked: keep to it
            return results
        by_id = {item.get("id"): item for item in reply if isinstance(item, dict)}
        return [self._result(method, by_id.get(i)) for i in ids]

    def _result(self, method: str, reply: Any) -> Any:
        if not isinstance(reply, dict):
            raise RemoteSignerError(f"the external signer at {self.shown} gave no answer to {method}")
        error = reply.get("error")
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise RemoteSignerRefused(f"the external signer at {self.shown} refused {method}: {message}")
        if "result" not in reply:
            raise RemoteSignerError(f"the external signer at {self.shown} gave no result for {method}")
        return reply["result"]

    def close(self) -> None:
        self._http.close()


def _signature(value: Any, *, shown: str) -> bytes:
    """65 bytes r ‖ s ‖ v with v 27 or 28 (signers answer v as 0/1 or 27/28)."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 132:
        raise RemoteSignerError(f"the external signer at {shown} returned a malformed signature")
    raw = bytes.fromhex(value[2:])
    v = raw[64] + 27 if raw[64] in (0, 1) else raw[64]
    return raw[:64] + bytes([v])


class RemoteTypedDataSigner:
    """Receipt and checkpoint signatures from ``eth_signTypedData_v4`` for ``address``."""

    def __init__(self, url: str, address: bytes, *, timeout: float = 10.0) -> None:
        if len(address) != 20:
            raise ValueError("address must be 20 bytes")
        self.address = address
        self._rpc = _JsonRpc(url, timeout=timeout)

    def __repr__(self) -> str:
        return f"RemoteTypedDataSigner(address={to_hex(self.address)}, url={self._rpc.shown})"

    def check(self) -> None:
        """Sign a check message (its own domain and type, so it can never pass for a receipt or a
        checkpoint) and refuse unless it recovers to ``address``: a wrong key or URL fails at start."""
        typed: dict[str, Any] = {
            "types": _CHECK_TYPES,
            "primaryType": "SignerCheck",
            "domain": {"name": "PacSpace signer check", "version": "1"},
            "message": {"purpose": "PacSpace node start-up check; not a receipt"},
        }
        message = encode_typed_data(full_message=typed)
        digest = keccak256(b"\x19" + message.version + message.header + message.body)
        self.sign_typed([(digest, lambda: typed)])

    def sign_typed(self, requests: Sequence[SigningRequest]) -> list[bytes]:
        signer = to_hex(self.address)
        signatures: list[bytes] = []
        for start in range(0, len(requests), BATCH):
            chunk = requests[start : start + BATCH]
            results = self._rpc.call_many("eth_signTypedData_v4", [[signer, build()] for _d, build in chunk])
            for (digest, _build), result in zip(chunk, results, strict=True):
                signature = _signature(result, shown=self._rpc.shown)
                try:
                    recovered = recover_signer(digest, signature)
                except ValueError:
                    recovered = b""
                if recovered != self.address:
                    raise RemoteSignerError(
                        f"the external signer at {self._rpc.shown} returned a signature that does not recover to "
                        f"{signer} over the digest the node computed; nothing was stored"
                    )
                signatures.append(signature)
        return signatures

    def close(self) -> None:
        self._rpc.close()


class RemoteTransactionSigner:
    """Anchoring transactions signed by ``eth_signTransaction`` for ``address`` (a checksum address)."""

    def __init__(self, url: str, address: str, *, timeout: float = 10.0) -> None:
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self._rpc = _JsonRpc(url, timeout=timeout)

    def __repr__(self) -> str:
        return f"RemoteTransactionSigner(address={self.address}, url={self._rpc.shown})"

    def check(self) -> None:
        """Refuse at start when the signer lists its accounts and ``address`` is not among them."""
        try:
            accounts = self._rpc.call("eth_accounts", [])
        except RemoteSignerRefused:
            return  # eth_accounts not offered: the first transaction will tell
        if isinstance(accounts, list) and self.address.lower() not in {str(a).lower() for a in accounts}:
            raise RemoteSignerError(f"the external signer at {self._rpc.shown} does not hold {self.address}")

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTx:
        request: dict[str, str] = {"from": self.address, "type": "0x2"}
        for name in _TX_NUMBERS:
            request[name] = hex(_number(tx.get(name, 0 if name == "value" else None), name))
        for name in _TX_BYTES:
            request[name] = _hex(tx.get(name), name)
        result = self._rpc.call("eth_signTransaction", [request])
        raw_hex = result.get("raw") if isinstance(result, dict) else result  # geth/Clef answer {raw, tx}
        if not isinstance(raw_hex, str) or not raw_hex.startswith("0x"):
            raise RemoteSignerError(f"the external signer at {self._rpc.shown} returned no signed transaction")
        raw = HexBytes(raw_hex)
        self._check(tx, raw)
        return SignedTx(hash=keccak256(bytes(raw)), raw_transaction=bytes(raw))

    def _check(self, tx: dict[str, Any], raw: HexBytes) -> None:
        """The signed bytes are the transaction asked for, from ``address``; anything else is refused."""
        try:
            decoded = TypedTransaction.from_bytes(raw).as_dict()
            sender = Account.recover_transaction(raw)
        except Exception as exc:
            raise RemoteSignerError(
                f"the external signer at {self._rpc.shown} returned bytes that are not a signed transaction: "
                f"{type(exc).__name__}"
            ) from None
        differs = [n for n in _TX_NUMBERS if _number(decoded.get(n, 0), n) != _number(tx.get(n, 0), n)]
        differs += [n for n in _TX_BYTES if _hex(decoded.get(n), n) != _hex(tx.get(n), n)]
        if sender != self.address or differs:
            what = f"fields {', '.join(differs)} differ" if differs else f"it is signed by {sender}"
            raise RemoteSignerError(
                f"the external signer at {self._rpc.shown} returned another transaction than asked for ({what})"
            )

    def close(self) -> None:
        self._rpc.close()


def _number(value: Any, name: str) -> int:
    if isinstance(value, str):
        return int(value, 16)
    if isinstance(value, int):
        return value
    raise ValueError(f"transaction field {name} is missing")


def _hex(value: Any, name: str) -> str:
    """An address or calldata as lowercase 0x-hex."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    raise ValueError(f"transaction field {name} is missing")
