"""A small fault-injecting JSON-RPC proxy in front of a real node (Anvil or Hardhat), for the tests.

It forwards every request unchanged until told to misbehave:

- ``kill()`` / ``revive()``: stop listening (connection refused), then listen again on the same port.
- ``freeze()``: the provider stops following the chain at the current head, like a stuck node: its
  ``latest`` stays there, and blocks, receipts and transactions above it do not exist for it.
- ``lie()``: a consistent alternative history: every block hash it hands out (blocks, receipts, logs)
  is a different one, and it maps those back when asked by hash.
- ``l1_fee``: adds an OP Stack style ``l1Fee`` to every transaction receipt.
- ``batches = False``: answers a JSON-RPC batch with HTTP 400, as a server without batch support may.
- ``rewrite``: a function that may change a request's params before they go upstream (a signer that
  signs something other than it was asked to).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_MASK = 0x5A


def _mask_hash(value: str) -> str:
    return "0x" + bytes(b ^ _MASK for b in bytes.fromhex(value[2:])).hex()


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.frozen_at: int | None = None
        self.lying = False
        self.l1_fee: int | None = None
        self.rewrite: Callable[[str, list[Any]], list[Any]] | None = None
        self.batches = True
        self.requests = 0
        self.methods: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}"

    # --- control -----------------------------------------------------------------------------

    def kill(self) -> None:
        """Stop listening: requests are refused until ``revive()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def revive(self) -> None:
        if self._server is None:
            self._listen()

    def freeze(self) -> int:
        """Stop following the chain at its current head; returns that block number."""
        self.frozen_at = int(self._upstream("eth_blockNumber", [])["result"], 16)
        return self.frozen_at

    def lie(self, lying: bool = True) -> None:
        self.lying = lying

    def honest(self) -> None:
        self.frozen_at, self.lying, self.l1_fee = None, False, None

    def close(self) -> None:
        self.kill()
        self._http.close()

    # --- forwarding --------------------------------------------------------------------------

    def _listen(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with proxy.lock:
                    proxy.requests += 1
                if isinstance(body, list) and not proxy.batches:
                    self.send_response(400)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                answer = [proxy.handle(item) for item in body] if isinstance(body, list) else proxy.handle(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def _upstream(self, method: str, params: list[Any], request_id: Any = 1) -> dict[str, Any]:
        reply = self._http.post(
            self.upstream, json={"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )
        result: dict[str, Any] = reply.json()
        return result

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params, request_id = request["method"], list(request.get("params") or []), request.get("id")
        with self.lock:
            self.methods[method] += 1
        if self.rewrite is not None:
            params = self.rewrite(method, params)
        if self.lying and method == "eth_getBlockByHash" and params:
            params[0] = _mask_hash(params[0])
        if self.frozen_at is not None:
            if method == "eth_blockNumber":
                return {"jsonrpc": "2.0", "id": request_id, "result": hex(self.frozen_at)}
            params = [self._pin(p) for p in params]
        reply = self._upstream(method, params, request_id)
        result = reply.get("result")
        if self.frozen_at is not None and isinstance(result, dict):
            number = result.get("number" if method.startswith("eth_getBlockBy") else "blockNumber")
            if isinstance(number, str) and int(number, 16) > self.frozen_at:
                reply["result"] = None  # mined after the block this provider is stuck at
        if isinstance(reply.get("result"), dict) and method == "eth_getTransactionReceipt" and self.l1_fee is not None:
            reply["result"]["l1Fee"] = hex(self.l1_fee)
        if self.lying:
            reply["result"] = self._rehash(reply.get("result"))
        return reply

    def _pin(self, param: Any) -> Any:
        """Block tags as this stuck provider sees them."""
        assert self.frozen_at is not None
        if param in ("latest", "pending", "safe", "finalized"):
            return hex(self.frozen_at)
        if isinstance(param, dict) and param.get("toBlock") in ("latest", "pending", None) and "fromBlock" in param:
            return {**param, "toBlock": hex(self.frozen_at)}
        return param

    def _rehash(self, value: Any) -> Any:
        """Every block hash in ``value`` replaced by its masked twin."""
        if isinstance(value, list):
            return [self._rehash(v) for v in value]
        if isinstance(value, dict):
            out = {k: self._rehash(v) for k, v in value.items()}
            for key in ("hash", "blockHash"):
                if key in out and isinstance(out[key], str) and (key == "blockHash" or "parentHash" in out):
                    out[key] = _mask_hash(out[key])
            return out
        return value
