"""node.client against a real node (uvicorn, SQLite file, Anvil): results, errors, retries, streaming."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from node.client import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PacSpaceClient,
    PermissionDeniedError,
    RateLimitedError,
    Receipt,
    TransportError,
    ValidationError,
)
from tests.conftest import Deployment, RunningNode, start_node

CUSTOMER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil account 2
MAX_INT256 = 2**255 - 1


def _client(node: RunningNode, token: str | None = None, **options: object) -> PacSpaceClient:
    return PacSpaceClient(node.base_url, token or node.token, **options)  # type: ignore[arg-type]


def _record(client: PacSpaceClient, customer: str, amounts: list[int], prefix: str) -> list[Receipt]:
    return [
        client.balance.delta(customer_id=customer, delta=amount, reason="usage", reference_id=f"{prefix}{i}")
        for i, amount in enumerate(amounts)
    ]


def _settle(client: PacSpaceClient, receipts: list[Receipt]) -> list[Receipt]:
    return [client.receipts.wait(r.receipt_id, timeout=20, poll_interval=0.05) for r in receipts]


class FailingTransport(httpx.BaseTransport):
    """Delegates to a real transport, but the first ``fail`` attempts fail: before sending (ConnectError),
    or after the node has answered (ReadTimeout, the response lost on its way back)."""

    def __init__(self, fail: int, *, after_send: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail = fail
        self.after_send = after_send
        self.attempts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.fail:
            if not self.after_send:
                raise httpx.ConnectError("connection refused (injected)", request=request)
            self.inner.handle_request(request).close()
            raise httpx.ReadTimeout("response lost (injected)", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class _BreakAfterFirstLine(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        buffered = b""
        for chunk in self.inner:
            buffered += chunk
            if b"\n" in buffered:
                yield buffered[: buffered.index(b"\n") + 1]
                raise httpx.RemoteProtocolError("peer closed connection (injected)")

    def close(self) -> None:
        self.inner.close()


class BreakingExportTransport(httpx.BaseTransport):
    """The first export response breaks after its first line, as a dropped connection would."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exports: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != "/v1/balance/export":
            return response
        self.exports.append(str(request.url.query, "ascii"))
        if len(self.exports) > 1:
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code, headers=response.headers, stream=_BreakAfterFirstLine(response.stream)
        )

    def close(self) -> None:
        self.inner.close()


def test_record_is_idempotent_and_errors_are_typed(node: RunningNode) -> None:
    with _client(node) as client:
        first = client.balance.delta(
            customer_id="c1", delta=-1000, reason="Monthly usage charge", reference_id="r1", metadata={"plan": "pro"}
        )
        again = client.balance.delta(
            customer_id="c1", delta=-1000, reason="Monthly usage charge", reference_id="r1", metadata={"plan": "pro"}
        )
        assert first.receipt_id.startswith("rcpt_") and first.customer_index == 0 and first.delta == -1000
        assert again.receipt_id == first.receipt_id and again.fingerprint == first.fingerprint
        assert first.raw["receiptId"] == first.receipt_id

        with pytest.raises(ConflictError) as conflict:
            client.balance.delta(customer_id="c1", delta=-999, reason="Monthly usage charge", reference_id="r1")
        assert conflict.value.status == 409 and conflict.value.code == "reference_conflict"
        assert conflict.value.receipt_id == first.receipt_id and conflict.value.request_id

        for bad in (1.5, 0, True, 2**255):
            with pytest.raises(ValidationError) as invalid:
                client.balance.delta(customer_id="c1", delta=bad, reason="x", reference_id=f"bad{bad}")  # type: ignore[arg-type]
            assert invalid.value.status == 422 and invalid.value.code == "invalid_request"
            assert [field for field, _ in invalid.value.errors] == ["delta"], invalid.value.errors
        with pytest.raises(NotFoundError) as missing:
            client.receipts.get("rcpt_does_not_exist")
        assert missing.value.code == "not_found" and isinstance(missing.value, LookupError)
        assert client.balance.derive("c1").pending_count == 1  # nothing stored by the refused requests


def test_wait_until_verified_then_proof(node: RunningNode, deployment: Deployment) -> None:
    with _client(node) as client:
        (pending,) = _record(client, "c2", [42], "p")
        verified = client.receipts.wait(pending.receipt_id, timeout=20, poll_interval=0.05)
        bundle = client.receipts.proof(pending.receipt_id)
    assert pending.status == "pending" and pending.log_index is None
    assert verified.status == "verified" and verified.log_index == 0 and verified.batch_id == 0
    assert verified.tx_hash and verified.block_number and verified.confirmations >= verified.confirmations_required
    assert bundle["version"] == "pacspace.proof.v2" and bundle["receiptId"] == pending.receipt_id
    assert bundle["fingerprint"] == pending.fingerprint and bundle["contract"] == deployment.address
    assert bundle["typedData"]["message"]["delta"] == "42"


def test_derive_exact_int256_verify_and_export_in_order(node: RunningNode) -> None:
    amounts = [MAX_INT256, MAX_INT256, -7]
    with _client(node) as client:
        receipts = _settle(client, _record(client, "big", amounts, "b"))
        balance = client.balance.derive("big")
        checked = client.balance.derive("big", verify=True)
        bundles = list(client.balance.export("big"))
        ranged = [b["receiptId"] for b in client.balance.export("big", from_index=1, to_index=1)]
        stream = client.balance.export("big")
        head = next(stream)
        stream.close()  # stopping early releases the connection
        with pytest.raises(NotFoundError):
            next(client.balance.export("nobody"))
    assert balance.balance == 2 * MAX_INT256 - 7 and type(balance.balance) is int  # exact, beyond 2**53
    assert (balance.pending_balance, balance.verified_count, balance.pending_count, balance.head_index) == (0, 3, 0, 2)
    assert balance.head_fingerprint == receipts[-1].fingerprint and balance.verification is None
    assert checked.verification is not None and checked.verification.verified
    assert (checked.verification.checked, checked.verification.discrepancies) == (3, ())
    assert [b["receiptId"] for b in bundles] == [r.receipt_id for r in receipts]
    assert [int(b["typedData"]["message"]["customerIndex"]) for b in bundles] == [0, 1, 2]
    assert sum(int(b["typedData"]["message"]["delta"]) for b in bundles) == balance.balance
    assert ranged == [receipts[1].receipt_id] and head["receiptId"] == receipts[0].receipt_id


def test_export_resumes_after_a_broken_stream(node: RunningNode) -> None:
    with _client(node) as client:
        receipts = _settle(client, _record(client, "e", [5, -2, 9], "e"))
    transport = BreakingExportTransport()
    with _client(node, transport=transport, backoff=0.01) as client:
        bundles = list(client.balance.export("e"))
    assert [b["receiptId"] for b in bundles] == [r.receipt_id for r in receipts]
    assert transport.exports == ["customerId=e&fromIndex=0", "customerId=e&fromIndex=1"]


def test_checkpoints_create_get_list_and_countersign(node: RunningNode) -> None:
    customer = Account.from_key(CUSTOMER_KEY)
    with _client(node) as client:
        receipts = _settle(client, _record(client, "k", [100, -40, 15], "k"))
        cp = client.checkpoints.create("k")
        assert (cp.from_index, cp.to_index, cp.count) == (0, 2, 3)
        assert (cp.opening_balance, cp.net, cp.closing_balance) == (0, 75, 75)
        assert cp.head_fingerprint == receipts[-1].fingerprint and cp.countersigner is None
        assert client.checkpoints.get(cp.checkpoint_id) == cp
        assert [c.checkpoint_id for c in client.checkpoints.list(customer_id="k")] == [cp.checkpoint_id]
        assert [c.checkpoint_id for c in client.checkpoints.list()] == [cp.checkpoint_id]
        with pytest.raises(ConflictError) as nothing:
            client.checkpoints.create("k")
        assert nothing.value.code == "nothing_to_checkpoint"

        signed = Account.sign_typed_data(CUSTOMER_KEY, full_message=cp.raw["typedData"])
        countersigned = client.checkpoints.countersign(cp.checkpoint_id, signed.signature)
        assert countersigned.countersigner == customer.address.lower()
        assert countersigned.countersignature == "0x" + bytes(signed.signature).hex()
        with pytest.raises(ConflictError) as twice:
            client.checkpoints.countersign(cp.checkpoint_id, "0x" + bytes(signed.signature).hex())
        assert twice.value.code == "already_countersigned"
        with pytest.raises(ValidationError) as malformed:
            client.checkpoints.countersign(cp.checkpoint_id, "0x12")
        assert [f for f, _ in malformed.value.errors] == ["signature"]

        (late,) = _settle(client, _record(client, "k3", [5], "k3"))
        with pytest.raises(ConflictError) as empty:
            client.checkpoints.create("k3", period_from=0, period_to=10)
        assert empty.value.code == "empty_range"
        by_period = client.checkpoints.create("k3", period_from=late.recorded_at, period_to=datetime.now(UTC))
        assert (by_period.from_index, by_period.to_index, by_period.closing_balance) == (0, 0, 5)


def test_keys_scopes_revocation_rotation_and_usage(node: RunningNode) -> None:
    with _client(node) as admin:
        writer = admin.keys.create("billing", ["write"])
        reader = admin.keys.create("portal", "read", customer_id="c9")
        assert writer.secret and writer.secret.startswith("sk_test_") and writer.secret not in repr(writer)
        assert reader.scopes == ("read",) and reader.customer_id == "c9" and reader.status == "active"
        assert {writer.id, reader.id} <= {k.id for k in admin.keys.list()}
        assert all(k.secret is None for k in admin.keys.list()) and admin.keys.get(writer.id).name == "billing"

        with _client(node, writer.secret) as billing:
            billing.balance.delta(customer_id="c9", delta=1, reason="usage", reference_id="w1")
            with pytest.raises(PermissionDeniedError) as denied:
                billing.keys.list()
            assert denied.value.status == 403 and denied.value.code == "forbidden"
            revoked = admin.keys.revoke(writer.id)
            assert revoked.status == "revoked" and revoked.revoked_at
            with pytest.raises(AuthenticationError) as unauthenticated:
                billing.balance.delta(customer_id="c9", delta=1, reason="usage", reference_id="w2")
            assert unauthenticated.value.status == 401 and unauthenticated.value.code == "unauthenticated"

        rotated = admin.keys.rotate(reader.id)
        assert rotated.secret and rotated.id != reader.id and rotated.customer_id == "c9"
        with _client(node, rotated.secret) as portal, _client(node, reader.secret) as old:
            assert portal.balance.derive("c9").head_index == 0
            with pytest.raises(AuthenticationError):
                old.balance.derive("c9")

        report = admin.usage(from_date=datetime.now(UTC).date())
        assert report["totals"]["deltasRecorded"] == 1 and len(report["days"]) == 1


def test_rate_limit_raises_with_retry_after_or_waits_it_out(node: RunningNode) -> None:
    with _client(node) as admin:
        slow = admin.keys.create("slow", ["read"], rate_per_second=0.01, rate_burst=1)
        paced = admin.keys.create("paced", ["read"], rate_per_second=1, rate_burst=1)
    assert slow.secret and paced.secret
    with _client(node, slow.secret, max_retries=0) as client:
        with pytest.raises(NotFoundError):
            client.balance.derive("nobody")  # spends the only token
        with pytest.raises(RateLimitedError) as limited:
            client.balance.derive("nobody")
    assert limited.value.status == 429 and limited.value.code == "rate_limited"
    assert limited.value.retry_after is not None and limited.value.retry_after >= 90
    with _client(node, paced.secret, max_retries=2, backoff=0.01) as client:
        with pytest.raises(NotFoundError):
            client.balance.derive("nobody")
        started = time.monotonic()
        with pytest.raises(NotFoundError):  # 429 with Retry-After: 1, slept through, then the real answer
            client.balance.derive("nobody")
    assert time.monotonic() - started >= 0.9


def test_retries_connect_errors_and_lost_responses_without_recording_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    paused = start_node(deployment, tmp_path, run_anchorer=False)
    try:
        refused = FailingTransport(2)
        with _client(paused, transport=refused, backoff=0.01) as client:
            first = client.balance.delta(customer_id="n", delta=10, reason="usage", reference_id="n1")
        assert refused.attempts == 3

        lost = FailingTransport(2, after_send=True)  # the node records it, the answer never arrives
        with _client(paused, transport=lost, backoff=0.01) as client:
            second = client.balance.delta(customer_id="n", delta=20, reason="usage", reference_id="n2")
        assert lost.attempts == 3

        not_sent_again = FailingTransport(1, after_send=True)
        with _client(paused, transport=not_sent_again, backoff=0.01) as client, pytest.raises(TransportError):
            client.keys.create("once", ["read"])  # not idempotent: a lost answer is not retried
        assert not_sent_again.attempts == 1

        with _client(paused) as client:
            balance = client.balance.derive("n")
            assert client.receipts.get(second.receipt_id).reference_id == "n2"
            with pytest.raises(ConflictError) as not_anchored:
                client.receipts.proof(first.receipt_id)
            assert not_anchored.value.code == "not_anchored"
            assert sum(k.name == "once" for k in client.keys.list()) == 1
    finally:
        paused.stop()
    assert (balance.pending_count, balance.head_index, balance.pending_balance) == (2, 1, 30)
    assert (first.customer_index, second.customer_index) == (0, 1)


def test_unreachable_node_raises_transport_error_after_retries() -> None:
    client = PacSpaceClient("http://127.0.0.1:9", "sk_test_x_y", max_retries=2, backoff=0.01)
    with client, pytest.raises(TransportError) as failed:
        client.receipts.get("rcpt_x")
    assert "3 attempt(s)" in str(failed.value) and failed.value.status is None
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
