"""Token buckets: the arithmetic only. The caller owns the clock and the table of buckets."""

from __future__ import annotations

import math
from dataclasses import dataclass


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
