"""JSON-RPC over HTTP for the committed test vectors: a replay server and a recording proxy.

A vector records the chain facts its check needs as a transcript, ``rpc``: a list of
``{"method", "params", "result"}`` (or ``"error"`` instead of ``"result"``). ``ReplayServer``
serves one transcript on 127.0.0.1 so that a verifier runs unchanged with
``--rpc http://127.0.0.1:<port>``: each request is answered from the entry with the same
method and params (compared after ``normalise``: every string that starts with ``0x`` is
lowercased, so checksummed and lowercase addresses are the same request); a request that is not
in the transcript gets a JSON-RPC error. ``RecordingProxy`` stands in front of a real node
(Anvil) and keeps, in the same format, every request it forwarded and its answer: the generator
(tests/vectors/tools/generate.py) runs the verifier through it to write the transcript.

Run ``python -m tests.vectors.replay VECTOR.json`` to serve a vector's transcript by hand (it
prints the URL), e.g. for a verifier in another language.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_RECORDED = -32001  # the JSON-RPC error code of a request the transcript does not hold


def normalise(value: Any) -> Any:
    """``value`` with every ``0x`` string lowercased (recursively): the form requests are matched in."""
    if isinstance(value, str):
        return value.lower() if value[:2] in ("0x", "0X") else value
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def request_key(method: str, params: Any) -> str:
    return json.dumps([method, normalise(params if params is not None else [])], sort_keys=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            out: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
        else:
            out = [self.server.answer(p) for p in payload] if isinstance(payload, list) else self.server.answer(payload)
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serving(server: _Server) -> Iterator[str]:
    # shutdown() waits for serve_forever's next poll: the default 0.5 s would cost that per vector.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class ReplayServer:
    """Answers JSON-RPC requests from a vector's transcript; ``misses`` lists what it could not."""

    def __init__(self, transcript: list[dict[str, Any]]) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        for entry in transcript:
            key = request_key(entry["method"], entry["params"])
            if key in self.answers and self.answers[key] != entry:
                raise ValueError(f"the transcript answers {key} twice, differently")
            self.answers[key] = entry
        self.misses: list[str] = []

    def answer(self, request: Any) -> dict[str, Any]:
        rid = request.get("id") if isinstance(request, dict) else None
        method = request.get("method") if isinstance(request, dict) else None
        params = request.get("params", []) if isinstance(request, dict) else None
        key = request_key(str(method), params)
        entry = self.answers.get(key)
        if entry is None:
            self.misses.append(key)
            error = {"code": NOT_RECORDED, "message": f"not in the vector's transcript: {key}"}
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        if "error" in entry:
            return {"jsonrpc": "2.0", "id": rid, "error": entry["error"]}
        return {"jsonrpc": "2.0", "id": rid, "result": entry["result"]}

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on 127.0.0.1 (a free port) while the block runs; yields the URL."""
        with _serving(_Server(self.answer)) as url:
            yield url


class RecordingProxy:
    """Forwards JSON-RPC requests to ``upstream`` and records each one with its answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.entries: dict[str, dict[str, Any]] = {}
        self.conflicts: list[str] = []
        self._lock = threading.Lock()
        self._id = 0

    def answer(self, request: Any) -> dict[str, Any]:
        with self._lock:
            self._id += 1
            forwarded = {"jsonrpc": "2.0", "id": self._id, "method": request["method"]}
            forwarded["params"] = request.get("params", [])
        req = urllib.request.Request(
            self.upstream, data=json.dumps(forwarded).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            reply: dict[str, Any] = json.loads(response.read())
        entry: dict[str, Any] = {"method": request["method"], "params": normalise(forwarded["params"])}
        if reply.get("error") is not None:
            entry["error"] = reply["error"]
        else:
            entry["result"] = reply.get("result")
        key = request_key(entry["method"], entry["params"])
        with self._lock:
            if key in self.entries and self.entries[key] != entry:
                self.conflicts.append(key)
            self.entries.setdefault(key, entry)
        out = {k: v for k, v in reply.items() if k != "id"}
        return {**out, "id": request.get("id")}

    def transcript(self) -> list[dict[str, Any]]:
        return list(self.entries.values())

    @contextmanager
    def serve(self) -> Iterator[str]:
        with _serving(_Server(self.answer)) as url:
            yield url


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.vectors.replay VECTOR.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        vector = json.load(handle)
    server = ReplayServer(vector.get("rpc", []))
    with server.serve() as url:
        print(url, flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
