"""The frozen results the client returns, each parsed and type-checked from the node's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.client.errors import InvalidResponseError


class _Fields:
    """Typed reads of one JSON object; a missing or mistyped field is an InvalidResponseError."""

    def __init__(self, body: object, what: str) -> None:
        if not isinstance(body, dict):
            raise InvalidResponseError(f"expected a JSON object for {what}, got {type(body).__name__}")
        self.body: dict[str, Any] = body
        self.what = what

    def get(self, name: str, types: tuple[type, ...], optional: bool) -> Any:
        value = self.body.get(name)
        if value is None and optional:
            return None
        # bool is an int in Python, never in this API; a float would mean precision already lost.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InvalidResponseError(f"{self.what}.{name} is {value!r}, not {' or '.join(t.__name__ for t in types)}")
        return value

    def text(self, name: str) -> str:
        result: str = self.get(name, (str,), False)
        return result

    def opt_text(self, name: str) -> str | None:
        result: str | None = self.get(name, (str,), True)
        return result

    def integer(self, name: str) -> int:
        result: int = self.get(name, (int,), False)
        return result

    def opt_integer(self, name: str) -> int | None:
        result: int | None = self.get(name, (int,), True)
        return result

    def flag(self, name: str) -> bool:
        result: bool = self.get(name, (bool,), False)
        return result

    def obj(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(name, (dict,), False)
        return result

    def array(self, name: str) -> list[Any]:
        result: list[Any] = self.get(name, (list,), False)
        return result


@dataclass(frozen=True)
class Receipt:
    """A signed receipt. ``status`` is ``pending``, ``anchored`` or ``verified``."""

    receipt_id: str
    status: str
    customer_id: str
    reference_id: str
    delta: int
    reason: str
    metadata_hash: str
    customer_index: int
    prev_fingerprint: str
    recorded_at: int
    corrects: str | None
    corrects_receipt_id: str | None
    fingerprint: str
    signature: str
    signer: str
    log_index: int | None
    batch_id: int | None
    tx_hash: str | None
    block_number: int | None
    confirmations: int
    confirmations_required: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_json(cls, body: object) -> Receipt:
        f = _Fields(body, "receipt")
        return cls(
            receipt_id=f.text("receiptId"),
            status=f.text("status"),
            customer_id=f.text("customerId"),
            reference_id=f.text("referenceId"),
            delta=f.integer("delta"),
            reason=f.text("reason"),
            metadata_hash=f.text("metadataHash"),
            customer_index=f.integer("customerIndex"),
            prev_fingerprint=f.text("prevFingerprint"),
            recorded_at=f.integer("recordedAt"),
            corrects=f.opt_text("corrects"),
            corrects_receipt_id=f.opt_text("correctsReceiptId"),
            fingerprint=f.text("fingerprint"),
            signature=f.text("signature"),
            signer=f.text("signer"),
            log_index=f.opt_integer("logIndex"),
            batch_id=f.opt_integer("batchId"),
            tx_hash=f.opt_text("txHash"),
            block_number=f.opt_integer("blockNumber"),
            confirmations=f.integer("confirmations"),
            confirmations_required=f.integer("confirmationsRequired"),
            raw=f.body,
        )


@dataclass(frozen=True)
class Discrepancy:
    """One finding of ``derive(verify=True)``; ``reason`` is a stable code such as ``fingerprint_mismatch``."""

    receipt_id: str | None
    customer_index: int | None
    batch_start_index: int | None
    reason: str
    detail: str
    # Completeness findings (missing_tail, missing_batch, unanchored_batch, …) name log indexes.
    from_log_index: int | None = None
    to_log_index: int | None = None
    onchain_batch_id: int | None = None

    @classmethod
    def from_json(cls, body: object) -> Discrepancy:
        f = _Fields(body, "discrepancy")
        return cls(
            receipt_id=f.opt_text("receiptId"),
            customer_index=f.opt_integer("customerIndex"),
            batch_start_index=f.opt_integer("batchStartIndex"),
            reason=f.text("reason"),
            detail=f.text("detail"),
            from_log_index=f.opt_integer("fromLogIndex"),
            to_log_index=f.opt_integer("toLogIndex"),
            onchain_batch_id=f.opt_integer("onchainBatchId"),
        )


@dataclass(frozen=True)
class Verification:
    verified: bool
    checked: int
    discrepancies: tuple[Discrepancy, ...]

    @classmethod
    def from_json(cls, body: object) -> Verification:
        f = _Fields(body, "verification")
        found = tuple(Discrepancy.from_json(d) for d in f.array("discrepancies"))
        return cls(verified=f.flag("verified"), checked=f.integer("checked"), discrepancies=found)


@dataclass(frozen=True)
class Balance:
    """``balance`` sums verified deltas; ``pending_balance`` the rest. ``verification`` only with verify=True."""

    customer_id: str
    balance: int
    pending_balance: int
    verified_count: int
    pending_count: int
    head_index: int
    head_fingerprint: str
    as_of_log_index: int | None
    verification: Verification | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_json(cls, body: object) -> Balance:
        f = _Fields(body, "balance")
        report = f.body.get("verification")
        return cls(
            customer_id=f.text("customerId"),
            balance=f.integer("balance"),
            pending_balance=f.integer("pendingBalance"),
            verified_count=f.integer("verifiedCount"),
            pending_count=f.integer("pendingCount"),
            head_index=f.integer("headIndex"),
            head_fingerprint=f.text("headFingerprint"),
            as_of_log_index=f.opt_integer("asOfLogIndex"),
            verification=None if report is None else Verification.from_json(report),
            raw=f.body,
        )


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement over customer indexes ``from_index..to_index`` (docs/PROTOCOL.md section 5)."""

    checkpoint_id: str
    customer_id: str
    from_index: int
    to_index: int
    count: int
    opening_balance: int
    net: int
    closing_balance: int
    range_root: str
    head_fingerprint: str
    created_at: int
    signer: str
    signature: str
    countersigner: str | None
    countersignature: str | None
    countersigned_at: int | None
    typed_data: dict[str, Any] = field(repr=False, compare=False, hash=False)
    proof_token: str = field(repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_json(cls, body: object) -> Checkpoint:
        f = _Fields(body, "checkpoint")
        return cls(
            checkpoint_id=f.text("checkpointId"),
            customer_id=f.text("customerId"),
            from_index=f.integer("fromIndex"),
            to_index=f.integer("toIndex"),
            count=f.integer("count"),
            opening_balance=f.integer("openingBalance"),
            net=f.integer("net"),
            closing_balance=f.integer("closingBalance"),
            range_root=f.text("rangeRoot"),
            head_fingerprint=f.text("headFingerprint"),
            created_at=f.integer("createdAt"),
            signer=f.text("signer"),
            signature=f.text("signature"),
            countersigner=f.opt_text("countersigner"),
            countersignature=f.opt_text("countersignature"),
            countersigned_at=f.opt_integer("countersignedAt"),
            typed_data=f.obj("typedData"),
            proof_token=f.text("proofToken"),
            raw=f.body,
        )


@dataclass(frozen=True)
class ApiKey:
    """An API key's record. ``secret`` (the key itself) is set only by create and rotate, and never printed."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    customer_id: str | None
    status: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    expires_at: str | None
    rotated_to: str | None
    rate_per_second: float | None
    rate_burst: int | None
    secret: str | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_json(cls, body: object) -> ApiKey:
        f = _Fields(body, "key")
        rate = f.get("ratePerSecond", (int, float), True)
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            prefix=f.text("prefix"),
            scopes=tuple(str(s) for s in f.array("scopes")),
            customer_id=f.opt_text("customerId"),
            status=f.text("status"),
            created_at=f.text("createdAt"),
            last_used_at=f.opt_text("lastUsedAt"),
            revoked_at=f.opt_text("revokedAt"),
            expires_at=f.opt_text("expiresAt"),
            rotated_to=f.opt_text("rotatedTo"),
            rate_per_second=None if rate is None else float(rate),
            rate_burst=f.opt_integer("rateBurst"),
            secret=f.opt_text("secret"),
            raw=f.body,
        )


@dataclass(frozen=True)
class DeltaOutcome:
    """One item of ``balance.deltas``: ``status`` 201 (created) or 200 (the first receipt of a retry) with
    ``receipt``; otherwise ``error``, the typed error the single call would have raised."""

    status: int
    receipt: Receipt | None
    error: Exception | None

    @property
    def ok(self) -> bool:
        return self.receipt is not None
