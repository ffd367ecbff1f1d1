"""Examples for the OpenAPI document: one request and one answer per operation, shaped exactly like the
real JSON (a test checks each answer example against its response model). Hashes and ids are shortened
only where a schema allows any string."""

from __future__ import annotations

from typing import Any

H = "0x" + "9b2e" * 16  # a 32-byte hash
H2 = "0x" + "51c0" * 16
ADDRESS = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
SIGNATURE = "0x" + "41d7" * 32 + "1b"
TX = "0x" + "7a3c" * 16

RECEIPT: dict[str, Any] = {
    "receiptId": "rcpt_6f1c2a9e0b7d4c3e8f1a2b3c",
    "status": "verified",
    "customerId": "cust_12345",
    "referenceId": "req_abc123",
    "delta": -1000,
    "reason": "Monthly usage charge",
    "metadataHash": "0x" + "00" * 32,
    "customerIndex": 0,
    "prevFingerprint": "0x" + "00" * 32,
    "recordedAt": 1767225600,
    "corrects": None,
    "correctsReceiptId": None,
    "fingerprint": H,
    "signature": SIGNATURE,
    "signer": ADDRESS,
    "logIndex": 0,
    "batchId": 0,
    "txHash": TX,
    "blockNumber": 2,
    "confirmations": 1,
    "confirmationsRequired": 1,
}
TYPED_DATA = {
    "types": {"Delta": [{"name": "tenant", "type": "string"}, {"name": "delta", "type": "int256"}]},
    "primaryType": "Delta",
    "domain": {"name": "PacSpace", "version": "2", "chainId": 31337, "verifyingContract": CONTRACT},
    "message": {"tenant": "default", "delta": "-1000"},
}
BATCH = {"id": 0, "root": H2, "startIndex": 0, "count": 1, "txHash": TX, "blockNumber": 2, "blockHash": H2}
BUNDLE: dict[str, Any] = {
    "version": "pacspace.proof.v2",
    "receiptId": RECEIPT["receiptId"],
    "chainId": 31337,
    "contract": CONTRACT,
    "typedData": TYPED_DATA,
    "metadata": None,
    "fingerprint": H,
    "signature": SIGNATURE,
    "signer": ADDRESS,
    "logIndex": 0,
    "leaf": H2,
    "proof": [],
    "batch": BATCH,
}
BALANCE = {
    "customerId": "cust_12345",
    "balance": -1000,
    "pendingBalance": 0,
    "verifiedCount": 1,
    "pendingCount": 0,
    "headIndex": 0,
    "headFingerprint": H,
    "asOfLogIndex": 0,
}
CHECKPOINT = {
    "checkpointId": "chk_4e1f9a0c2b3d5e6f7a8b9c0d",
    "customerId": "cust_12345",
    "fromIndex": 0,
    "toIndex": 0,
    "count": 1,
    "openingBalance": 0,
    "net": -1000,
    "closingBalance": -1000,
    "rangeRoot": H2,
    "headFingerprint": H,
    "createdAt": 1767225700,
    "signer": ADDRESS,
    "signature": SIGNATURE,
    "countersigner": None,
    "countersignature": None,
    "countersignedAt": None,
    "typedData": {**TYPED_DATA, "primaryType": "Checkpoint"},
    "proofToken": "0x02" + "00" * 40,
}
KEY = {
    "id": "3f2a9c1b7d4e6a80",
    "name": "billing service",
    "prefix": "sk_test_",
    "scopes": ["write"],
    "customerId": None,
    "status": "active",
    "createdAt": "2026-01-01T00:00:00Z",
    "lastUsedAt": None,
    "revokedAt": None,
    "expiresAt": None,
    "rotatedTo": None,
    "ratePerSecond": None,
    "rateBurst": None,
}
KEY_CREATED = {**KEY, "secret": "sk_test_3f2a9c1b7d4e6a80_Q2hhbmdlIG1lOiBzaG93biBvbmNlIG9ubHkuLi4uLi4"}
TOLERANCE = {"absolute": 100, "basisPoints": 5}
SUMMARY = {
    "comparisonId": "cmp_0a1b2c3d4e5f6a7b8c9d0e1f",
    "customerId": "cust_12345",
    "asOf": {"customerIndex": None},
    "recordBalance": -1000,
    "theirBalance": -900,
    "variance": 100,
    "tolerance": TOLERANCE,
    "resolution": "auto_settled",
    "settlementReceiptId": "rcpt_9d8c7b6a5f4e3d2c1b0a9f8e",
}
EVIDENCE = {
    "limit": 1000,
    "onlyInRecord": [],
    "onlyInTheirs": [],
    "amountMismatch": [
        {"referenceId": "req_abc123", "receiptId": RECEIPT["receiptId"], "record": -1000, "theirs": -900}
    ],
    "pending": [],
    "counts": {"matched": 0, "onlyInRecord": 0, "onlyInTheirs": 0, "amountMismatch": 1, "pending": 0},
}
ENDPOINT = {
    "id": "whk_5a6b7c8d9e0f1a2b3c4d5e6f",
    "url": "https://billing.example.com/pacspace",
    "events": ["delta.verified"],
    "enabled": True,
    "disabledReason": None,
    "aggregate": False,
    "previousSecretActiveUntil": None,
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
}
DELIVERY = {
    "id": "dlv_1a2b3c4d5e6f7a8b9c0d1e2f",
    "event": "delta.verified",
    "status": "delivered",
    "idempotencyKey": f"{RECEIPT['receiptId']}:default",
    "attempts": 1,
    "createdAt": "2026-01-01T00:00:05Z",
    "nextAttemptAt": None,
    "deliveredAt": "2026-01-01T00:00:05Z",
    "lastStatusCode": 200,
    "lastError": None,
    "log": [{"at": "2026-01-01T00:00:05Z", "statusCode": 200, "latencyMs": 41, "error": None, "response": "ok"}],
}
FIGURES = {
    "deltasVerified": 1,
    "batchesAnchored": 1,
    "gasUsed": 55040,
    "costWei": "55040000000000",
    "costPerVerifiedDeltaWei": "55040000000000",
    "costPerVerifiedDeltaFiat": None,
}
USAGE = {
    "tenant": "default",
    "from": "2026-01-01",
    "to": "2026-01-01",
    "currency": "USD",
    "nativePrice": None,
    "days": [
        {
            "date": "2026-01-01",
            "requests": [
                {"keyId": KEY["id"], "method": "POST", "route": "/v1/balance/delta", "statusClass": "2xx", "count": 1}
            ],
            "requestCount": 1,
            "deltasRecorded": 1,
            "deltasRecordedByKey": {KEY["id"]: 1},
            **FIGURES,
        }
    ],
    "totals": {"requestCount": 1, "deltasRecorded": 1, **FIGURES},
}
HEALTH = {
    "status": "ok",
    "receiptSigner": "active",
    "chainId": 31337,
    "contract": CONTRACT,
    "signer": ADDRESS,
    "anchorer": ADDRESS,
    "protocolVersion": 2,
    "headBlock": 12,
    "unbatchedDeltas": 0,
    "lastAnchorError": None,
    "anchoringLeader": True,
    "database": "sqlite",
}
MAPPING = {
    "type": "com.example.llm.tokens",
    "quantityField": "tokens",
    "multiplier": "-2",
    "reasonTemplate": "{data.model} tokens",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
}
DELTA_REQUEST = {
    "customerId": "cust_12345",
    "delta": -1000,
    "reason": "Monthly usage charge",
    "referenceId": "req_abc123",
}

# model name -> an answer of that shape
ANSWERS: dict[str, Any] = {
    "Receipt": RECEIPT,
    "ProofBundle": BUNDLE,
    "Me": {"keyId": KEY["id"], "tenant": "default", "scopes": ["admin"], "customerId": None},
    "Balance": BALANCE,
    "Checkpoint": CHECKPOINT,
    "CheckpointList": {"checkpoints": [CHECKPOINT]},
    "ApiKey": KEY,
    "ApiKeyCreated": KEY_CREATED,
    "ApiKeyList": {"keys": [KEY]},
    "TenantSettingsView": {"tolerance": TOLERANCE},
    "Comparison": {**SUMMARY, "evidence": EVIDENCE, "evidenceExpiredAt": None},
    "EvidencePack": {
        "version": "pacspace.evidence.v2",
        "comparison": SUMMARY,
        "evidence": EVIDENCE,
        "bundles": [BUNDLE],
    },
    "UsageReport": USAGE,
    "WebhookEndpoint": ENDPOINT,
    "WebhookEndpointWithSecret": {
        **ENDPOINT,
        "secret": "whsec_c2VjcmV0IHNob3duIG9uY2UgYXQgY3JlYXRpb24gb3Igcm90YXRpb24=",
    },
    "WebhookList": {"webhooks": [ENDPOINT]},
    "DeliveryList": {"deliveries": [DELIVERY]},
    "DeliveryQueued": {"deliveryId": DELIVERY["id"]},
    "Redelivery": {"deliveryId": DELIVERY["id"], "status": "pending"},
    "DeltaBatchOutcome": {
        "results": [{"status": 201, "receipt": {**RECEIPT, "status": "pending"}}],
        "created": 1,
        "replayed": 0,
        "failed": 0,
    },
    "Health": HEALTH,
    "Mapping": MAPPING,
    "Mappings": {"referenceIdMode": "source#id", "mappings": [MAPPING]},
    "IngestSettings": {"referenceIdMode": "source#id"},
}
