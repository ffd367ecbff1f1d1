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


class InvalidInput(PacSpaceError, ValueError):
    code = "invalid_request"
    status = 422
    title = "Invalid request"


class NotFound(PacSpaceError, LookupError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(PacSpaceError):
    code = "conflict"
    status = 409
    title = "Conflict"

    def __init__(
        self, detail: str, *, code: str = "conflict", receipt_id: str | None = None, checkpoint_id: str | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.receipt_id = receipt_id
        self.checkpoint_id = checkpoint_id


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


class ChainUnavailable(PacSpaceError):
    code = "chain_unavailable"
    status = 503
    title = "Chain unavailable"


class ReceiptSignerRevoked(PacSpaceError):
    """The contract no longer counts this node's receipt signer: a receipt signed now could never verify."""

    code = "receipt_signer_revoked"
    status = 503
    title = "Receipt signing key revoked"


class RateLimited(PacSpaceError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
