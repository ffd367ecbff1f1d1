"""Several JSON-RPC providers behind one web3 provider (``PACSPACE_RPC_URLS``).

Reads go to the first provider that is up and not lagging, in the configured order, and fail over to
the next one when a request cannot reach it (connection refused, timeout, an HTTP error status, a
body that is not JSON-RPC). A provider whose head is more than ``max_lag_blocks`` behind the best head
seen is *lagging*: it is asked only when nothing better answers. Writes (``eth_sendRawTransaction``)
are sent to one provider at a time, in the same order, never to all at once.

Provider URLs often carry an API key (in the path, the query or user:password@), so the state shown in
metrics, ``/healthz`` and logs names a provider by its position (``rpc1``) and its redacted URL
(scheme, host and port only), and an error by its kind, never by its message (which quotes the URL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from node.settings import Settings

log = logging.getLogger("pacspace.rpc")

# What a provider that cannot serve a request raises: requests' errors (connection, timeout, HTTP status)
# are OSErrors; a body that does not decode as JSON-RPC is a ValueError.
_UNREACHABLE: tuple[type[Exception], ...] = (OSError, TimeoutError, ValueError)
# A provider that failed is not asked again (except as a last resort) for this long, doubling per failure.
_RETRY_AFTER_SECONDS = 2.0
_RETRY_AFTER_MAX_SECONDS = 60.0

UP, LAGGING, DOWN, UNKNOWN = "up", "lagging", "down", "unknown"
_RANK = {UP: 0, UNKNOWN: 1, LAGGING: 2, DOWN: 3}


def redact_url(url: str) -> str:
    """``scheme://host[:port]``, plus ``/…`` when the URL had a path or query: what is safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    rest = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme or 'http'}://{host}{port}{rest}"


def _error_kind(exc: BaseException) -> str:
    """A short, URL-free description of a failed request (``HTTPError 503``, ``ConnectTimeout``)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return f"{type(exc).__name__} {status}" if status is not None else type(exc).__name__


@dataclass(frozen=True)
class ProviderView:
    """One provider's state, safe to show: no URL path, query or credentials."""

    name: str
    url: str
    state: str
    head_block: int | None
    lag_blocks: int | None
    last_error: str | None
    failures: int
    requests: int

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "url": self.url,
            "state": self.state,
            "headBlock": self.head_block,
            "lagBlocks": self.lag_blocks,
            "lastError": self.last_error,
            "failures": self.failures,
        }


def _session(url: str) -> requests.Session:
    """A requests session for one provider, with what requests takes from the environment (proxies and
    NO_PROXY, the CA bundle, ~/.netrc credentials) read once, here.

    requests reads them again for every request (``trust_env``): scanning the environment and looking
    for ~/.netrc cost about as much CPU as the rest of a JSON-RPC call (docs/PERFORMANCE.md, issue 21).
    A node's environment does not change while it runs, so the same values apply to every request.
    """
    session = requests.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    netrc = requests.utils.get_netrc_auth(url)
    session.trust_env = False
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    if netrc is not None:
        session.auth = netrc
    return session


class Endpoint:
    """One configured provider: its own web3 (for questions put to it alone) and what was last seen of it."""

    def __init__(self, index: int, url: str, *, timeout: float) -> None:
        self.index = index
        self.name = f"rpc{index + 1}"
        self.url = redact_url(url)
        # No retries inside the provider: the pool fails over to the next provider instead of sleeping.
        # Its chain id is asked once (web3's request cache): web3's validation middleware asks before
        # every eth_call, gas estimate and transaction, 7 of an anchoring cycle's ~20 requests.
        self.http = Web3.HTTPProvider(
            url,
            request_kwargs={"timeout": timeout},
            session=_session(url),
            exception_retry_configuration=None,
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
        self.w3 = Web3(self.http)
        self.state = UNKNOWN
        self.head_block: int | None = None
        self.last_error: str | None = None
        self.failures = 0
        self.requests = 0
        self.retry_at = 0.0
        self._consecutive = 0

    def __repr__(self) -> str:
        return f"Endpoint({self.name}, {self.url}, {self.state})"


class ProviderPool:
    """The configured providers, their state, and the order in which to ask them."""

    def __init__(self, urls: Sequence[str], *, max_lag_blocks: int = 5, timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.endpoints = [Endpoint(i, url, timeout=timeout) for i, url in enumerate(urls)]
        self.max_lag_blocks = max_lag_blocks
        self._lock = threading.Lock()
        self.best_head: int | None = None

    def __len__(self) -> int:
        return len(self.endpoints)

    # --- routing ---------------------------------------------------------------------------------

    def ordered(self) -> list[Endpoint]:
        """Up first, then not yet seen, lagging, and down (a down one still waiting out its retry time last)."""
        now = time.monotonic()
        with self._lock:
            return sorted(
                self.endpoints,
                key=lambda e: (_RANK[e.state], e.state == DOWN and now < e.retry_at, e.index),
            )

    def request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Ask the providers in order until one answers; the last failure is raised if none does."""
        failure: Exception | None = None
        tried: list[Endpoint] = []
        for endpoint in self.ordered():
            try:
                response = endpoint.http.make_request(method, params)
            except _UNREACHABLE as exc:
                self._failed(endpoint, exc)
                failure = exc
                tried.append(endpoint)
                continue
            self._answered(endpoint, method, response)
            if tried:
                log.warning(
                    "RPC request failed over",
                    extra={"method": method, "failed": [e.name for e in tried], "served_by": endpoint.name},
                )
            return response
        assert failure is not None
        raise failure

    def primary(self) -> Endpoint:
        """The provider reads go to first right now."""
        return self.ordered()[0]

    def primary_url(self) -> str:
        """The full URL of that provider (credentials included: for a request, never for display)."""
        return str(self.primary().http.endpoint_uri)

    # --- state -----------------------------------------------------------------------------------

    def refresh(self) -> int | None:
        """Ask every provider for its head block (a provider that failed recently only once its retry
        time has passed), then mark each up, lagging or down. Returns the best head seen."""
        now = time.monotonic()
        for endpoint in self.endpoints:
            if endpoint.state == DOWN and now < endpoint.retry_at:
                continue
            try:
                response = endpoint.http.make_request(RPCEndpoint("eth_blockNumber"), [])
                head = int(response["result"], 16) if isinstance(response.get("result"), str) else None
            except _UNREACHABLE as exc:
                self._failed(endpoint, exc)
                continue
            if head is None:
                self._failed(endpoint, ValueError("eth_blockNumber gave no block number"))
                continue
            self._answered(endpoint, RPCEndpoint("eth_blockNumber"), response)
        self._classify()
        return self.best_head

    def views(self) -> list[ProviderView]:
        with self._lock:
            best = self.best_head
            return [
                ProviderView(
                    name=e.name,
                    url=e.url,
                    state=e.state,
                    head_block=e.head_block,
                    lag_blocks=None if best is None or e.head_block is None else max(0, best - e.head_block),
                    last_error=e.last_error,
                    failures=e.failures,
                    requests=e.requests,
                )
                for e in self.endpoints
            ]

    def _answered(self, endpoint: Endpoint, method: str, response: RPCResponse) -> None:
        with self._lock:
            endpoint.requests += 1
            endpoint._consecutive = 0
            if method == "eth_blockNumber" and isinstance(response.get("result"), str):
                endpoint.head_block = int(response["result"], 16)
                self.best_head = max(self.best_head or 0, endpoint.head_block)
            if endpoint.state in (DOWN, UNKNOWN):
                if endpoint.state == DOWN:
                    log.info("RPC provider answers again", extra={"provider": endpoint.name, "url": endpoint.url})
                endpoint.state = UP
        self._classify()

    def _failed(self, endpoint: Endpoint, exc: BaseException) -> None:
        with self._lock:
            endpoint.requests += 1
            endpoint.failures += 1
            endpoint._consecutive += 1
            endpoint.last_error = _error_kind(exc)
            delay = min(_RETRY_AFTER_MAX_SECONDS, _RETRY_AFTER_SECONDS * 2 ** min(endpoint._consecutive - 1, 8))
            endpoint.retry_at = time.monotonic() + delay
            was = endpoint.state
            endpoint.state = DOWN
        if was != DOWN:
            log.warning(
                "RPC provider unreachable",
                extra={"provider": endpoint.name, "url": endpoint.url, "error": endpoint.last_error},
            )

    def _classify(self) -> None:
        with self._lock:
            best = self.best_head
            if best is None:
                return
            for endpoint in self.endpoints:
                if endpoint.state == DOWN or endpoint.head_block is None:
                    continue
                behind = best - endpoint.head_block
                state = LAGGING if behind > self.max_lag_blocks else UP
                if state != endpoint.state:
                    log.warning(
                        "RPC provider lagging" if state == LAGGING else "RPC provider caught up",
                        extra={"provider": endpoint.name, "url": endpoint.url, "behind_blocks": behind},
                    )
                    endpoint.state = state


class FailoverProvider(JSONBaseProvider):
    """A web3 provider that sends each request through a ProviderPool."""

    def __init__(self, pool: ProviderPool) -> None:
        super().__init__()
        self.pool = pool

    def __str__(self) -> str:
        return f"RPC failover over {', '.join(e.url for e in self.pool.endpoints)}"

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        # Writes (eth_sendRawTransaction) take the same path as reads: one provider at a time, the next
        # only if this one cannot be reached. Sending the same signed bytes twice is harmless.
        return self.pool.request(method, params)

    def is_connected(self, show_traceback: bool = False) -> bool:
        return any(e.w3.is_connected() for e in self.pool.endpoints)


def connect_pool(urls: Sequence[str], *, max_lag_blocks: int = 5, timeout: float = 10.0) -> Web3:
    """A Web3 whose every request goes through a ProviderPool over ``urls`` (``w3.provider.pool``)."""
    return Web3(FailoverProvider(ProviderPool(urls, max_lag_blocks=max_lag_blocks, timeout=timeout)))


def connect_configured(settings: Settings) -> Web3:
    """A Web3 over the node's configured providers (PACSPACE_RPC_URLS, else PACSPACE_RPC_URL)."""
    return connect_pool(
        settings.rpc_endpoints(), max_lag_blocks=settings.rpc_max_lag_blocks, timeout=settings.rpc_timeout_seconds
    )
