"""The verifier's RpcChain: raw JSON-RPC over the standard library's HTTP client, against a loopback
server that records what it was sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from node.dev.chain import free_port
from pacspace_verify.bundle import parse_bundle
from pacspace_verify.chain import RpcChain, RpcError, fetch_chain_facts


class _Server(ThreadingHTTPServer):
    answer: Any = None
    status: int = 200
    seen: list[tuple[dict[str, str], dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((dict(self.headers), body))
        answer = self.server.answer(body) if callable(self.server.answer) else self.server.answer
        data = json.dumps(answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(server: _Server, userinfo: str = "") -> str:
    return f"http://{userinfo}127.0.0.1:{server.server_address[1]}/rpc"


def test_a_call_is_one_json_rpc_request(server: _Server) -> None:
    server.answer = lambda body: {"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}
    chain = RpcChain(_url(server))
    assert chain.chain_id() == 31337
    assert chain.head() == 31337
    (headers, first), (_, second) = server.seen
    assert first == {"jsonrpc": "2.0", "method": "eth_chainId", "params": [], "id": 1}
    assert second["method"] == "eth_blockNumber" and second["id"] == 2
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


def test_userinfo_in_the_url_is_basic_authentication(server: _Server) -> None:
    server.answer = {"jsonrpc": "2.0", "id": 1, "result": "0x1"}
    assert RpcChain(_url(server, "auditor:p%40ss@")).chain_id() == 1
    headers, _ = server.seen[0]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"auditor:p@ss").decode()


def test_an_rpc_error_and_an_odd_answer_raise_rpc_error(server: _Server) -> None:
    server.answer = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no such method"}}
    with pytest.raises(RpcError, match="no such method"):
        RpcChain(_url(server)).chain_id()
    server.answer = [1, 2]
    with pytest.raises(RpcError, match="unexpected"):
        RpcChain(_url(server)).chain_id()


def test_an_http_error_status_and_a_closed_port_are_os_errors(server: _Server) -> None:
    server.answer, server.status = {"error": "down"}, 503
    with pytest.raises(OSError, match="503"):
        RpcChain(_url(server)).chain_id()
    with pytest.raises(OSError):
        RpcChain(f"http://127.0.0.1:{free_port()}", timeout=2).chain_id()


def test_only_http_and_https_urls_are_opened(tmp_path: Any) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"jsonrpc": "2.0", "id": 1, "result": "0x1"}')
    with pytest.raises(OSError, match="not an http"):
        RpcChain(secret.as_uri()).chain_id()


def test_an_unreachable_rpc_fails_every_chain_fact_with_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    facts = fetch_chain_facts(RpcChain(url, timeout=2), parse_bundle({}), bytes(20))
    assert facts.chain_id == facts.head == facts.receipt
    assert f"RPC unreachable at {url}" in str(facts.chain_id)
