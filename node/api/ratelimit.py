"""Per-process token buckets: one per API key, and one per client address for failed authentication.

Buckets live in memory, so with several API processes each process allows its own budget;
the README says so. The table is bounded (least recently used buckets are dropped).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from node.core.errors import RateLimited
from node.core.ratelimit import Bucket, BucketPolicy, retry_after_header, take


class RateLimiter:
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
