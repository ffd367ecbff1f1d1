"""Sending requests: retries with exponential backoff and jitter, one ``X-Request-Id`` per call."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any
from urllib.parse import quote

import httpx

from node.client.errors import InvalidResponseError, TransportError, _error_from, _retry_after

USER_AGENT = "pacspace-node-client/0.1"
MAX_BACKOFF_SECONDS = 10.0
# A Retry-After longer than this is not slept through inside a call: RateLimitedError goes to the caller.
MAX_RETRY_AFTER_SECONDS = 30.0
_jitter = secrets.SystemRandom()


class _Retry(Enum):
    ALWAYS = "always"  # reads and idempotent writes: any transient failure
    UNSENT = "unsent"  # other writes: only when the node cannot have acted on the request


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _path(*segments: str) -> str:
    return "/v1/" + "/".join(quote(s, safe="") for s in segments)


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)  # ints stay exact: json never turns them into floats
    except ValueError as exc:
        raise InvalidResponseError(
            f"response is not JSON: {response.text[:200]!r}",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from exc


class _Transport:
    """The HTTP connection of a PacSpaceClient and the retry policy of every request it sends."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        max_retries: int,
        backoff: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        if max_retries < 0 or backoff < 0:
            raise ValueError("max_retries and backoff must not be negative")
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep: Callable[[float], None] = time.sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # The one place requests are sent; every call goes through here.
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        retry: _Retry = _Retry.ALWAYS,
        stream: bool = False,
    ) -> httpx.Response:
        headers = {"X-Request-Id": "py_" + uuid.uuid4().hex}
        attempt = 0
        while True:
            request = self._http.build_request(method, path, params=params, json=body, headers=headers)
            try:
                response = self._http.send(request, stream=stream)
            except _TRANSIENT as exc:
                if attempt >= self.max_retries or (retry is _Retry.UNSENT and not isinstance(exc, _NOT_SENT)):
                    raise TransportError(
                        f"{method} {path} failed after {attempt + 1} attempt(s): {type(exc).__name__}: {exc}",
                        code="transport_error",
                        request_id=headers["X-Request-Id"],
                    ) from exc
                self._sleep(self._delay(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as exc:  # not transient (bad URL scheme, local protocol error)
                raise TransportError(
                    f"{method} {path}: {exc}", code="transport_error", request_id=headers["X-Request-Id"]
                ) from exc
            if response.status_code < 400:
                return response
            if stream:
                response.read()
                response.close()
            wait = self._retry_wait(response, retry, attempt)
            if wait is None:
                raise _error_from(response)
            self._sleep(wait)
            attempt += 1

    def _retry_wait(self, response: httpx.Response, retry: _Retry, attempt: int) -> float | None:
        """Seconds to wait before retrying this error response, or None to raise it."""
        if attempt >= self.max_retries:
            return None
        if response.status_code == 429:  # refused before any work: safe for every request
            after = _retry_after(response)
            if after is None:
                return self._delay(attempt)
            return None if after > MAX_RETRY_AFTER_SECONDS else after + _jitter.uniform(0, self.backoff)
        if response.status_code in (502, 503, 504) and retry is _Retry.ALWAYS:
            return self._delay(attempt)
        return None

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, so clients spread out."""
        base = min(MAX_BACKOFF_SECONDS, self.backoff * 2.0**attempt)
        return base / 2 + _jitter.uniform(0, base / 2)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return _json(self._send(method, path, **kwargs))
