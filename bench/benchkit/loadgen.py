"""An HTTP/1.1 load generator: asyncio, one keep-alive connection per client, no HTTP library.

Each client sends a request, reads the whole response and sends the next (closed loop), so
``clients`` is the concurrency. Requests are pre-encoded bytes from a factory; responses are
parsed only as far as the status and Content-Length. Its own ceiling is measured against
``echo_server`` in the same run, so a figure it produces can be told apart from its own limit.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per counted response
    statuses: Counter[int] = field(default_factory=Counter)
    items: int = 0  # units of work (deltas of a bulk request), as weighted by the request factory

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def item_rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def request_bytes(
    method: str,
    path: str,
    token: str,
    body: bytes | None = None,
    host: str = "127.0.0.1",
    content_type: str = "application/json",
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
    end = lowered.index(b"\r\n", at + 2)
    return status, await reader.readexactly(int(lowered[at + 17 : end]))


async def _client(
    address: tuple[str, int],
    make_request: Callable[[], tuple[bytes, int]],
    start_at: float,
    stop_at: float,
    result: LoadResult,
    check: Callable[[int, bytes], None] | None,
) -> None:
    reader, writer = await asyncio.open_connection(*address)
    try:
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            request, weight = make_request()
            writer.write(request)
            status, body = await _read_response(reader)
            done = time.perf_counter()
            if check is not None:
                check(status, body)
            if sent >= start_at:  # responses to warm-up requests are not counted
                result.latencies.append(done - sent)
                result.statuses[status] += 1
                result.items += weight
                # A response that ends after the window stretches it: rates are never inflated.
                result.seconds = max(result.seconds, done - start_at)
    finally:
        writer.close()


def run_load(
    addresses: Sequence[tuple[str, int]],
    make_request: Callable[[], tuple[bytes, int]],
    *,
    clients: int,
    seconds: float,
    warmup: float = 0.5,
    check: Callable[[int, bytes], None] | None = None,
) -> LoadResult:
    """``clients`` closed-loop connections for ``warmup + seconds``, spread over ``addresses`` round robin
    (as a load balancer spreads them over API processes). ``make_request`` returns (bytes, weight)."""

    async def main() -> LoadResult:
        result = LoadResult(seconds=seconds)
        now = time.perf_counter()
        start_at, stop_at = now + warmup, now + warmup + seconds
        await asyncio.gather(
            *(
                _client(addresses[i % len(addresses)], make_request, start_at, stop_at, result, check)
                for i in range(clients)
            )
        )
        return result

    return asyncio.run(main())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1), nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
