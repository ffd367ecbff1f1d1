"""PacSpaceClient and its namespaces: one method per endpoint of the node's API."""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from node.client._http import _TRANSIENT, _path, _Retry, _Transport
from node.client.errors import InvalidResponseError, TransportError, WaitTimeoutError, _error_from_problem
from node.client.models import ApiKey, Balance, Checkpoint, DeltaOutcome, Receipt, _Fields

_STATUS_ORDER = {"pending": 0, "anchored": 1, "verified": 2}


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise InvalidResponseError(f"export line is not JSON: {line[:200]!r}") from exc


def _bundle_index(bundle: Mapping[str, Any]) -> int:
    """The customer index of a proof bundle; typed data carries integers as decimal strings."""
    try:
        return int(bundle["typedData"]["message"]["customerIndex"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidResponseError("export line has no typedData.message.customerIndex") from exc


class PacSpaceClient(_Transport):
    """A PacSpace node's API: ``balance``, ``receipts``, ``checkpoints``, ``keys`` and ``usage()``.

    ``transport`` is passed to httpx (for a proxy-aware or test transport). Close the client, or use it
    as a context manager, to release its connections.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff, transport=transport
        )
        self.balance = BalanceApi(self)
        self.receipts = ReceiptsApi(self)
        self.checkpoints = CheckpointsApi(self)
        self.keys = KeysApi(self)

    def __repr__(self) -> str:
        return f"PacSpaceClient({str(self._http.base_url)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def usage(self, from_date: date | str | None = None, to_date: date | str | None = None) -> dict[str, Any]:
        """Usage per UTC day, inclusive (admin). Wei and fiat amounts are decimal strings."""
        params = {k: v if isinstance(v, str) else v.isoformat() for k, v in (("from", from_date), ("to", to_date)) if v}
        result: dict[str, Any] = _Fields(self._json("GET", _path("usage"), params=params), "usage").body
        return result


class _Api:
    def __init__(self, client: PacSpaceClient) -> None:
        self._client = client


class BalanceApi(_Api):
    def delta(
        self,
        *,
        customer_id: str,
        delta: int,
        reason: str,
        reference_id: str,
        metadata: Mapping[str, Any] | None = None,
        corrects_receipt_id: str | None = None,
    ) -> Receipt:
        """Record a delta (minor units, non-zero, within int256). Safe to retry: ``reference_id`` is the
        idempotency key, so the same payload returns the first receipt; a different payload with the same
        ``reference_id`` raises ConflictError ``reference_conflict`` whose ``receipt_id`` is the original."""
        body: dict[str, Any] = {
            "customerId": customer_id,
            "delta": delta,
            "reason": reason,
            "referenceId": reference_id,
        }
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if corrects_receipt_id is not None:
            body["correctsReceiptId"] = corrects_receipt_id
        return Receipt.from_json(self._client._json("POST", _path("balance", "delta"), body=body))

    def deltas(self, items: Sequence[Mapping[str, Any]]) -> list[DeltaOutcome]:
        """Record up to 1,000 deltas in one request, each independently; one outcome per item, in order.

        Each item takes the keyword arguments of ``delta()`` (``customer_id``, ``delta``, ``reason``,
        ``reference_id``, optional ``metadata`` and ``corrects_receipt_id``). A failed item does not stop
        the others: its outcome carries the error ``delta()`` would have raised. Safe to retry as a whole.
        """
        names = {
            "customer_id": "customerId",
            "delta": "delta",
            "reason": "reason",
            "reference_id": "referenceId",
            "metadata": "metadata",
            "corrects_receipt_id": "correctsReceiptId",
        }
        api_names = {v: k for k, v in names.items()}
        for index, item in enumerate(items):  # before anything is built or sent
            unknown = set(item) - set(names)
            if unknown:
                hints = [f"{u} (use {api_names[u]})" if u in api_names else u for u in sorted(unknown)]
                raise TypeError(
                    f"items[{index}]: unknown delta fields: {', '.join(hints)}; items take delta()'s keyword "
                    "arguments (customer_id, delta, reason, reference_id, metadata, corrects_receipt_id)"
                )
        body = {"deltas": [{names[k]: v for k, v in item.items() if v is not None} for item in items]}
        response = _Fields(self._client._json("POST", _path("balance", "deltas"), body=body), "bulk response")
        outcomes = []
        for raw in response.array("results"):
            result = _Fields(raw, "bulk result")
            status = result.integer("status")
            if result.body.get("receipt") is not None:
                outcomes.append(DeltaOutcome(status, Receipt.from_json(result.obj("receipt")), None))
            else:
                error = _error_from_problem(status, result.obj("problem"), request_id=None)
                outcomes.append(DeltaOutcome(status, None, error))
        if len(outcomes) != len(items):
            raise InvalidResponseError(f"{len(items)} deltas sent, {len(outcomes)} results received")
        return outcomes

    def derive(self, customer_id: str, verify: bool = False) -> Balance:
        """The balance from the record. ``verify=True`` replays every delta against the chain (slower)."""
        params = {"customerId": customer_id, "verify": "true" if verify else "false"}
        return Balance.from_json(self._client._json("GET", _path("balance", "derive"), params=params))

    def export(
        self, customer_id: str, from_index: int = 0, to_index: int | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """Proof bundles of the customer's verified deltas in index order, streamed in constant memory.

        Lazy: the request is sent, and errors raised, at the first ``next()``. A stream broken part way
        is resumed after the last bundle received, within ``max_retries``.
        """
        client = self._client
        next_index = from_index
        broken = 0
        while to_index is None or next_index <= to_index:
            params: dict[str, str | int] = {"customerId": customer_id, "fromIndex": next_index}
            if to_index is not None:
                params["toIndex"] = to_index
            response = client._send("GET", _path("balance", "export"), params=params, stream=True)
            try:
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    bundle = _Fields(_loads(line), "export line").body
                    yield bundle
                    next_index = _bundle_index(bundle) + 1
                return
            except _TRANSIENT as exc:
                if broken >= client.max_retries:
                    raise TransportError(
                        f"export stream broke at index {next_index}: {type(exc).__name__}: {exc}",
                        code="transport_error",
                        request_id=response.headers.get("x-request-id"),
                    ) from exc
                client._sleep(client._delay(broken))
                broken += 1
            finally:
                response.close()


class ReceiptsApi(_Api):
    def get(self, receipt_id: str) -> Receipt:
        return Receipt.from_json(self._client._json("GET", _path("receipts", receipt_id)))

    def proof(self, receipt_id: str) -> dict[str, Any]:
        """The proof bundle (``pacspace.proof.v1``); ConflictError ``not_anchored`` while pending."""
        return _Fields(self._client._json("GET", _path("receipts", receipt_id, "proof")), "proof bundle").body

    def wait(
        self, receipt_id: str, status: str = "verified", *, timeout: float = 60.0, poll_interval: float = 0.5
    ) -> Receipt:
        """Poll until the receipt reaches ``status`` (or a later one); WaitTimeoutError after ``timeout`` s."""
        if status not in _STATUS_ORDER:
            raise ValueError(f"status must be one of {', '.join(_STATUS_ORDER)}")
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.get(receipt_id)
            if _STATUS_ORDER.get(receipt.status, -1) >= _STATUS_ORDER[status]:
                return receipt
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(f"{receipt_id} is still {receipt.status} after {timeout} s", code="wait_timeout")
            self._client._sleep(poll_interval)


def _unix(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("give an aware datetime (with tzinfo) or unix seconds")
        return int(value.timestamp())
    return value


class CheckpointsApi(_Api):
    def create(
        self,
        customer_id: str,
        from_index: int | None = None,
        to_index: int | None = None,
        period_from: int | datetime | None = None,
        period_to: int | datetime | None = None,
    ) -> Checkpoint:
        """Sign a checkpoint over verified deltas: by customer index, or by recording time (unix seconds,
        inclusive), not both. With neither, from after the previous checkpoint to the latest verified delta."""
        body: dict[str, Any] = {"customerId": customer_id}
        for name, value in (("fromIndex", from_index), ("toIndex", to_index)):
            if value is not None:
                body[name] = value
        for name, moment in (("from", period_from), ("to", period_to)):
            if moment is not None:
                body[name] = _unix(moment)
        data = self._client._json("POST", _path("checkpoints"), body=body, retry=_Retry.UNSENT)
        return Checkpoint.from_json(data)

    def get(self, checkpoint_id: str) -> Checkpoint:
        return Checkpoint.from_json(self._client._json("GET", _path("checkpoints", checkpoint_id)))

    def list(self, customer_id: str | None = None) -> list[Checkpoint]:
        params = {} if customer_id is None else {"customerId": customer_id}
        data = _Fields(self._client._json("GET", _path("checkpoints"), params=params), "checkpoints")
        return [Checkpoint.from_json(c) for c in data.array("checkpoints")]

    def countersign(self, checkpoint_id: str, signature: str | bytes) -> Checkpoint:
        """Attach the customer's 65-byte EIP-712 signature over ``typed_data`` (hex, or bytes as eth-account
        returns them)."""
        text = "0x" + signature.hex() if isinstance(signature, bytes) else signature
        text = text if text.startswith(("0x", "0X")) else "0x" + text
        path = _path("checkpoints", checkpoint_id, "countersign")
        return Checkpoint.from_json(self._client._json("POST", path, body={"signature": text}, retry=_Retry.UNSENT))


class KeysApi(_Api):
    """API keys of this tenant (admin scope)."""

    def create(
        self,
        name: str,
        scopes: Sequence[str] | str,
        *,
        customer_id: str | None = None,
        live: bool = False,
        rate_per_second: float | None = None,
        rate_burst: int | None = None,
    ) -> ApiKey:
        """A new key; its ``secret`` is in the result and nowhere else. Not retried once it may have been sent:
        a lost response would otherwise create a second key."""
        body: dict[str, Any] = {"name": name, "scopes": [scopes] if isinstance(scopes, str) else list(scopes)}
        if live:
            body["live"] = True
        for key, value in (("customerId", customer_id), ("ratePerSecond", rate_per_second), ("rateBurst", rate_burst)):
            if value is not None:
                body[key] = value
        return ApiKey.from_json(self._client._json("POST", _path("keys"), body=body, retry=_Retry.UNSENT))

    def get(self, key_id: str) -> ApiKey:
        return ApiKey.from_json(self._client._json("GET", _path("keys", key_id)))

    def list(self) -> list[ApiKey]:
        data = _Fields(self._client._json("GET", _path("keys")), "keys")
        return [ApiKey.from_json(k) for k in data.array("keys")]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once. Idempotent (revoking a revoked key changes nothing), so it is retried like a read."""
        return ApiKey.from_json(self._client._json("DELETE", _path("keys", key_id)))

    def rotate(self, key_id: str, grace_seconds: int = 0) -> ApiKey:
        """A new key with the same name, scopes and limits; the old one works ``grace_seconds`` more."""
        body = {"graceSeconds": grace_seconds}
        return ApiKey.from_json(
            self._client._json("POST", _path("keys", key_id, "rotate"), body=body, retry=_Retry.UNSENT)
        )
