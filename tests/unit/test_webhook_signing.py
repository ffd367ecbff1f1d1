"""Webhook signatures against independent implementations of both schemes."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from standardwebhooks import Webhook

from node.core.webhooks import (
    WebhookSignatureError,
    backoff_seconds,
    new_secret,
    signature_headers,
    verify_pacspace_signature,
)

BODY = b'{"type":"delta.verified","receiptId":"rcpt_1"}'


def test_pacspace_signature_is_stripes_scheme() -> None:
    secret = new_secret()
    headers = signature_headers(
        secrets_=[secret], message_id="evt_1", timestamp=1_700_000_000, body=BODY,
        event_type="delta.verified", idempotency_key="rcpt_1:default",
    )  # fmt: skip
    expected = hmac.new(secret.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers["Pacspace-Signature"] == f"t=1700000000,v1={expected}"
    assert headers["Pacspace-Event"] == "delta.verified" and headers["Idempotency-Key"] == "rcpt_1:default"
    verify_pacspace_signature(secret=secret, header=headers["Pacspace-Signature"], body=BODY, now=1_700_000_100)


def test_standard_webhooks_library_accepts_the_headers() -> None:
    secret = new_secret()
    import time

    now = int(time.time())
    headers = signature_headers(
        secrets_=[new_secret(), secret], message_id="evt_2", timestamp=now, body=BODY,
        event_type="delta.verified", idempotency_key="k",
    )  # fmt: skip
    assert Webhook(secret).verify(
        BODY, {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    )


@pytest.mark.parametrize(
    ("header", "now", "message"),
    [
        ("v1=abc", 1_700_000_000, "malformed"),
        ("t=1700000000", 1_700_000_000, "malformed"),
        ("t=1700000000,v1=00", 1_700_000_000, "no v1 signature matches"),
        ("t=1700000000,v1=00", 1_700_000_301, "more than 300"),
    ],
)
def test_receivers_refuse_bad_or_stale_signatures(header: str, now: int, message: str) -> None:
    with pytest.raises(WebhookSignatureError, match=message):
        verify_pacspace_signature(secret=new_secret(), header=header, body=BODY, now=now)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert backoff_seconds(60) == 6 * 3600.0
    assert backoff_seconds(1, jitter=0.2) == 6.0
    assert backoff_seconds(10_000) == 6 * 3600.0  # no overflow


def test_a_delivery_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        signature_headers(secrets_=[], message_id="e", timestamp=1, body=b"", event_type="t", idempotency_key="k")
