"""Where a request's small database reads run.

On SQLite an indexed read costs ~30 µs, less than the hop to a worker thread, so it runs on the
event loop. On PostgreSQL the same read is a network round trip (plus the pool's liveness ping):
on the event loop it would stall every other request, so it goes to a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from node.store.db import Store

P = ParamSpec("P")
T = TypeVar("T")


async def small_read(store: Store, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if store.is_sqlite:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
