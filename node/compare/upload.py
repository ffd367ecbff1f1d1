"""What a comparison is asked to compare: the request, and the uploads (JSON or CSV) it is read from.

The route spools the body to a private temporary file and hands it over with the query's values;
``parse_upload`` runs in a worker thread, never on the event loop, reads the file once, front to
back, and refuses at the first item past ``max_items``. CSV rows are ``referenceId,delta`` (a
header row of exactly those names is optional), one per line of at most ``MAX_CSV_LINE`` bytes:
a longer line is refused when it is met, in time linear in what was read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from node.compare.json_body import YIELD_EVERY, Problems, parse_json_body, pause
from node.core.compare import Tolerance
from node.core.deltas import MAX_REFERENCE_ID
from node.core.errors import FieldError, InvalidInput
from node.core.typed_data import INT256_MAX, INT256_MIN

MAX_CSV_LINE = 1024  # bytes per row, line ending excluded: an id of 128 characters and an int256 fit
_AMOUNT = re.compile(r"-?[0-9]{1,78}")


@dataclass(frozen=True)
class CompareRequest:
    customer_id: str
    their_deltas: Iterator[tuple[str, int]] | None
    their_balance: int | None
    as_of_index: int | None = None
    as_of_recorded_at: int | None = None
    tolerance: Tolerance | None = None
    field_prefix: str = "theirDeltas"  # how a bad row is named: theirDeltas[17] or row[17] of the CSV


@dataclass(frozen=True)
class Upload:
    """A spooled body (``kind`` "json" or "csv") and the query's values of the compare request."""

    kind: str
    body: IO[bytes]
    customer_id: str
    max_items: int
    their_balance: int | None = None  # CSV only (JSON carries it in the body)
    as_of_index: int | None = None  # CSV only
    tolerance: Tolerance | None = None


def _tolerance(absolute: int | None, basis_points: int | None) -> Tolerance | None:
    return None if absolute is None and basis_points is None else Tolerance(absolute, basis_points)


def parse_upload(upload: Upload) -> CompareRequest:
    """The request the upload makes; raises InvalidInput (422) or MalformedJson (400) naming the problem."""
    if upload.kind == "csv":
        rows = parse_csv_body(upload.body, max_items=upload.max_items)
        if not rows and upload.their_balance is None:
            raise InvalidInput(
                "the CSV has no rows and no theirBalance was given: nothing to compare",
                errors=[FieldError("body", "no referenceId,delta rows (or pass theirBalance in the query)")],
            )
        return CompareRequest(
            customer_id=upload.customer_id,
            their_deltas=iter(rows),
            their_balance=upload.their_balance,
            as_of_index=upload.as_of_index,
            tolerance=upload.tolerance,
            field_prefix="row",
        )
    fields = parse_json_body(upload.body, customer_id=upload.customer_id, max_items=upload.max_items)
    if fields.their_balance is None and not fields.their_deltas:
        why = "theirDeltas is empty" if fields.their_deltas is not None else "theirBalance or theirDeltas is required"
        raise InvalidInput(
            "send theirBalance, theirDeltas (at least one item) or both", errors=[FieldError("theirDeltas", why)]
        )
    body_tolerance = _tolerance(fields.tolerance_absolute, fields.tolerance_basis_points)
    tolerance = body_tolerance if upload.tolerance is None else upload.tolerance.stricter(body_tolerance)
    return CompareRequest(
        customer_id=upload.customer_id,
        their_deltas=None if fields.their_deltas is None else iter(fields.their_deltas),
        their_balance=fields.their_balance,
        as_of_index=fields.as_of_index,
        as_of_recorded_at=fields.as_of_recorded_at,
        tolerance=tolerance,
    )


def _row_problem(problems: Problems, where: str, fields: list[str]) -> tuple[str, int] | None:
    if len(fields) != 2:
        problems.add(where, "expected 2 columns: referenceId,delta")
        return None
    reference_id, amount_text = fields[0].strip(), fields[1].strip()
    if not 1 <= len(reference_id) <= MAX_REFERENCE_ID:
        problems.add(where, f"referenceId must be 1-{MAX_REFERENCE_ID} characters")
        return None
    if not _AMOUNT.fullmatch(amount_text):
        problems.add(where, "delta must be an integer in minor units")
        return None
    amount = int(amount_text)
    if not INT256_MIN <= amount <= INT256_MAX:
        problems.add(where, "delta outside int256")
        return None
    return reference_id, amount


def parse_csv_body(raw: IO[bytes], *, max_items: int) -> list[tuple[str, int]]:
    """``referenceId,delta`` rows in order; every bad row counted, the first few described."""
    problems = Problems()
    rows: list[tuple[str, int]] = []
    line_no = items = 0
    while line := raw.readline(MAX_CSV_LINE + 2):
        line_no += 1
        where = f"row {line_no}"
        content = line.rstrip(b"\r\n")
        if len(content) > MAX_CSV_LINE:
            raise InvalidInput(
                f"{where} is longer than {MAX_CSV_LINE} bytes",
                errors=[FieldError(where, f"longer than {MAX_CSV_LINE} bytes: not a referenceId,delta row")],
            )
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            problems.add(where, "not UTF-8")
            continue
        if not text.strip():
            continue
        try:
            fields = text.split(",") if '"' not in text else next(csv.reader([text]))
        except (csv.Error, StopIteration):
            problems.add(where, "not a CSV row")
            continue
        if line_no == 1 and [f.strip() for f in fields] == ["referenceId", "delta"]:
            continue
        items += 1
        if not items % YIELD_EVERY:
            pause()
        if items > max_items:
            raise InvalidInput(
                f"the CSV has more than {max_items} rows",
                errors=[FieldError(where, f"at most {max_items} rows per comparison")],
            )
        row = _row_problem(problems, where, fields)
        if row is not None:
            rows.append(row)
    problems.raise_if_any("the CSV is not valid")
    return rows
