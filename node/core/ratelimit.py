"""Token buckets: the arithmetic, and ``RateLimiter``, a bounded in-memory table of them.

No I/O: the caller passes the clock. Each API process keeps its own table (the README says so).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from node.core.errors import RateLimited


@dataclass(frozen=True)
class BucketPolicy:
    """``rate`` tokens per second refill a bucket of ``burst`` tokens. Requires rate > 0, burst >= 1."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")


@dataclass
class Bucket:
    tokens: float
    updated_at: float


def take(bucket: Bucket | None, policy: BucketPolicy, now: float) -> tuple[Bucket, float]:
    """Spend one token. Returns the new bucket and 0.0 when allowed, else the seconds to wait."""
    if bucket is None:
        bucket = Bucket(tokens=float(policy.burst), updated_at=now)
    elapsed = max(0.0, now - bucket.updated_at)
    tokens = min(float(policy.burst), bucket.tokens + elapsed * policy.rate)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), 0.0
    return Bucket(tokens, now), (1.0 - tokens) / policy.rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After is whole seconds; never tell a client 0 when it must wait."""
    return str(max(1, math.ceil(wait_seconds)))


class RateLimiter:
    """Token buckets by name, in this process's memory, bounded (least recently used dropped).

    With several API processes each keeps its own budget (the README says so).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def spend(self, name: str, policy: BucketPolicy, *, detail: str) -> None:
        """Take one token from bucket ``name``; raises RateLimited (with Retry-After) when empty."""
        with self._lock:
            bucket, wait = take(self._buckets.get(name), policy, self._clock())
            self._buckets[name] = bucket
            self._buckets.move_to_end(name)
            while len(self._buckets) > self._max_entries:
                self._buckets.popitem(last=False)
        if wait > 0:
            retry_after = retry_after_header(wait)
            raise RateLimited(f"{detail}; retry after {retry_after} s", retry_after=retry_after)
