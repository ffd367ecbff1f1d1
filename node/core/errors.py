"""Domain errors. Each carries a stable snake_case ``code`` and the HTTP status the API maps it to.

Only ``node.api`` turns these into responses; the core never knows about HTTP beyond the number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; ``field`` is a dotted path such as ``metadata.plan``."""

    field: str
    message: str


class PacSpaceError(Exception):
    """Base of every domain error."""

    code = "pacspace_error"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []

    def extra(self) -> dict[str, object]:
        """Members the problem body carries besides the standard ones (an id the error is about)."""
        return {}


class InvalidInput(PacSpaceError, ValueError):
    code = "invalid_request"
    status = 422
    title = "Invalid request"


class InvalidItems(InvalidInput):
    """Many bad items (a compare upload): only the first few are in ``errors``; the problem body's
    ``errorCount`` says how many there were in all, so the answer stays small whatever was sent."""

    def __init__(self, detail: str, *, errors: list[FieldError], error_count: int) -> None:
        super().__init__(detail, errors=errors)
        self.error_count = error_count

    def extra(self) -> dict[str, object]:
        return {"errorCount": self.error_count}


class NotFound(PacSpaceError, LookupError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(PacSpaceError):
    """Base of the 409s: the request clashes with what the node holds. Each subclass is one ``code``."""

    code = "conflict"
    status = 409
    title = "Conflict"


class ReceiptConflict(Conflict):
    """A conflict about one receipt, whose id the problem body carries as ``receiptId``."""

    def __init__(self, detail: str, *, receipt_id: str) -> None:
        super().__init__(detail)
        self.receipt_id = receipt_id

    def extra(self) -> dict[str, object]:
        return {"receiptId": self.receipt_id}


class CheckpointConflict(Conflict):
    """A conflict about one checkpoint, whose id the problem body carries as ``checkpointId``."""

    def __init__(self, detail: str, *, checkpoint_id: str) -> None:
        super().__init__(detail)
        self.checkpoint_id = checkpoint_id

    def extra(self) -> dict[str, object]:
        return {"checkpointId": self.checkpoint_id}


class ReferenceConflict(ReceiptConflict):
    """The referenceId was already recorded with a different payload (as ``receipt_id``)."""

    code = "reference_conflict"


class ChainContention(Conflict):
    """The customer's chain could not be extended: other writers kept winning the race."""

    code = "chain_contention"


class NotAnchored(ReceiptConflict):
    """The receipt's batch is not anchored yet, so it has no proof."""

    code = "not_anchored"


class EmptyRange(Conflict):
    """No deltas were recorded in the requested period."""

    code = "empty_range"


class NothingToCheckpoint(Conflict):
    """No verified deltas after the previous checkpoint."""

    code = "nothing_to_checkpoint"


class RangeNotVerified(Conflict):
    """Part of the requested range is not verified yet."""

    code = "range_not_verified"


class CheckpointOverlap(CheckpointConflict):
    """The range overlaps the existing checkpoint ``checkpoint_id``."""

    code = "checkpoint_overlap"


class CheckpointRangeInvalid(Conflict):
    """The stored deltas of the range do not form a checkpoint."""

    code = "checkpoint_range_invalid"


class AlreadyCountersigned(CheckpointConflict):
    """The checkpoint ``checkpoint_id`` already carries a countersignature."""

    code = "already_countersigned"


class Unauthenticated(PacSpaceError):
    code = "unauthenticated"
    status = 401
    title = "Unauthenticated"


class Forbidden(PacSpaceError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class ProofError(PacSpaceError, ValueError):
    """A Merkle proof does not lead to the expected root."""

    code = "proof_mismatch"
    status = 422
    title = "Proof does not verify"

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(f"root mismatch: expected 0x{expected.hex()}, calculated 0x{calculated.hex()}")
        self.expected = expected
        self.calculated = calculated


class ReceiptSignerRevoked(PacSpaceError):
    """The contract no longer counts this node's receipt signer: a receipt signed now could never verify."""

    code = "receipt_signer_revoked"
    status = 503
    title = "Receipt signing key revoked"


class BadRequest(PacSpaceError):
    code = "bad_request"
    status = 400
    title = "Bad request"


class MethodNotAllowed(PacSpaceError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"


class PayloadTooLarge(PacSpaceError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(PacSpaceError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


class MalformedJson(PacSpaceError):
    """The request body is not JSON at all."""

    code = "malformed_json"
    status = 400
    title = "Malformed JSON"


class DatabaseUnavailable(PacSpaceError):
    """The database could not take the transaction (locked, full, unreachable); nothing was stored."""

    code = "database_unavailable"
    status = 503
    title = "Database unavailable"


class InternalError(PacSpaceError):
    """A failure the node has no better name for; the details go to the log, not to the client."""

    code = "internal_error"
    status = 500
    title = "Internal error"


class Busy(PacSpaceError):
    """Every slot for this kind of work is taken (compare uploads); retry after ``retry_after`` seconds."""

    code = "busy"
    status = 503
    title = "Busy"

    def __init__(self, detail: str, *, retry_after: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Gone(PacSpaceError):
    """The resource existed but its content has expired (a comparison's evidence after its retention)."""

    code = "gone"
    status = 410
    title = "Gone"


class RateLimited(PacSpaceError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
