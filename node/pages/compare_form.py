"""A comparison started from a page: "their balance" and "their deltas" (one ``referenceId,delta`` per
line, a header line optional) become the same validated request as ``POST /v1/balance/compare``'s JSON
body (its model, ``CompareBody``, checks every field), so a page can never compare what the API refuses;
``run_compare_form`` runs it, or gives the form's errors by field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from node.api.schemas import CompareBody
from node.compare.service import CompareRequest
from node.core.errors import FieldError, InvalidInput
from node.services import Services
from node.store.models import ComparisonRow

MAX_FORM_LINES = 10_000  # a form is for a handful; large sets go to the API as text/csv


def _integer(text: str) -> int | str:
    """Digits (with an optional minus) as an int, anything else as typed, for the model to refuse by name."""
    value = text.strip()
    return int(value) if value.lstrip("-").isascii() and value.lstrip("-").isdigit() and len(value) <= 80 else value


def _their_deltas(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The rows and the line each came from (blank lines and a header line are skipped)."""
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    lines = text.splitlines()
    if len(lines) > MAX_FORM_LINES:
        raise InvalidInput(
            "too many lines", errors=[FieldError("theirDeltas", f"at most {MAX_FORM_LINES:,} lines in a form")]
        )
    for number, line in enumerate(lines, 1):
        if not line.strip() or (number == 1 and line.replace(" ", "") == "referenceId,delta"):
            continue
        reference, comma, amount = line.partition(",")
        if not comma:
            raise InvalidInput(
                f"line {number}: expected referenceId,delta",
                errors=[FieldError("theirDeltas", f"line {number}: expected referenceId,delta")],
            )
        rows.append({"referenceId": reference.strip(), "delta": _integer(amount)})
        numbers.append(number)
    return rows, numbers


def compare_request_from_form(customer_id: str, their_balance: str, their_deltas: str) -> CompareRequest:
    """The request a comparison form asks for; InvalidInput naming ``theirBalance`` or ``theirDeltas``."""
    body: dict[str, Any] = {"customerId": customer_id}
    if their_balance.strip():
        body["theirBalance"] = _integer(their_balance)
    deltas, line_numbers = _their_deltas(their_deltas)
    if deltas:
        body["theirDeltas"] = deltas
    if "theirBalance" not in body and not deltas:
        raise InvalidInput(
            "give their balance, their deltas or both",
            errors=[FieldError("theirBalance", "enter their balance, their deltas, or both")],
        )
    try:
        parsed = CompareBody.model_validate(body)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            message = "must be a whole number of minor units" if "int" in err["type"] else str(err["msg"])
            if loc[:1] == ["theirDeltas"] and len(loc) > 2:
                line = line_numbers[int(loc[1])]
                errors.append(FieldError("theirDeltas", f"line {line}: {loc[2]} {message}"))
            else:
                errors.append(FieldError(loc[0] if loc else "theirBalance", message))
        raise InvalidInput("the comparison is not valid", errors=errors) from None
    return CompareRequest(
        customer_id=customer_id,
        their_deltas=None
        if parsed.theirDeltas is None
        else iter([(d.referenceId, d.delta) for d in parsed.theirDeltas]),
        their_balance=parsed.theirBalance,
    )


def run_compare_form(
    services: Services,
    *,
    tenant: str,
    key_id: str,
    customer_id: str,
    their_balance: str,
    their_deltas: str,
    may_settle: bool,
) -> ComparisonRow | dict[str, str]:
    """The comparison the form asks for, run for ``customer_id`` of ``tenant`` as ``key_id``; or, when the
    form is not valid, its errors by field (the form's field names: ``theirBalance``, ``theirDeltas``).
    ``may_settle`` is the face's rule: a variance within tolerance settles only for a key that may write."""
    try:
        req = compare_request_from_form(customer_id, their_balance, their_deltas)
        return services.comparisons.run(tenant=tenant, key_id=key_id, req=req, may_settle=may_settle).row
    except InvalidInput as exc:
        return {e.field: e.message for e in reversed(exc.errors)} or {"theirBalance": exc.detail}
