"""Python client for a PacSpace node's HTTP API.

Depends on the standard library and httpx only, so it installs without the node's server stack::

    from node.client import PacSpaceClient

    with PacSpaceClient("http://127.0.0.1:8000", api_key) as client:
        receipt = client.balance.delta(customer_id="cust_12345", delta=-1000, reason="usage", reference_id="req_1")
        verified = client.receipts.wait(receipt.receipt_id)
        bundle = client.receipts.proof(receipt.receipt_id)

Integers (deltas and balances are int256) are parsed with :mod:`json` and stay exact Python ints.

Retries. Connection failures, timeouts, ``429`` (after its ``Retry-After``) and ``502``/``503``/``504``
are retried up to ``max_retries`` times with exponential backoff and jitter, for reads and for
``POST /v1/balance/delta`` and ``/deltas``: those are idempotent by ``referenceId``, so a retry of a
request the node already recorded returns the first receipt (``200``) and never records twice. The other writes
(keys, rotation, checkpoints, countersignatures) are retried only when the request cannot have
reached the node (connect errors) or was refused before any work (``429``). Other ``4xx`` are never
retried. Every attempt of one call carries the same ``X-Request-Id``, so the node's logs show retries.
"""

from __future__ import annotations

from node.client._http import MAX_BACKOFF_SECONDS as MAX_BACKOFF_SECONDS
from node.client._http import MAX_RETRY_AFTER_SECONDS as MAX_RETRY_AFTER_SECONDS
from node.client._http import USER_AGENT as USER_AGENT
from node.client.api import BalanceApi as BalanceApi
from node.client.api import CheckpointsApi as CheckpointsApi
from node.client.api import KeysApi as KeysApi
from node.client.api import PacSpaceClient
from node.client.api import ReceiptsApi as ReceiptsApi
from node.client.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PacSpaceError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)
from node.client.errors import InvalidResponseError as InvalidResponseError
from node.client.models import ApiKey, Balance, Checkpoint, DeltaOutcome, Discrepancy, Receipt, Verification

__all__ = [
    "ApiKey",
    "AuthenticationError",
    "Balance",
    "Checkpoint",
    "ConflictError",
    "DeltaOutcome",
    "Discrepancy",
    "NotFoundError",
    "PacSpaceClient",
    "PacSpaceError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Receipt",
    "ServerError",
    "TransportError",
    "ValidationError",
    "Verification",
    "WaitTimeoutError",
]
