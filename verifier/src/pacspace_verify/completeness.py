"""Is the export complete? What the customer kept, against what the export holds (section 6).

An export can pass every other check and still lack deltas: an operator who deleted them from the
database exports a shorter, self-consistent chain. The customer's own evidence catches it:

- ``kept_receipts``: every receipt the customer kept (``delta.verified`` webhook payloads, or the
  receipt JSON of ``POST /v1/balance/delta`` / ``GET /v1/receipts/{id}``) must be in the export with
  the same ``fingerprint`` at the same ``customerIndex``;
- ``checkpoints``: the export must reach each countersigned checkpoint's ``toIndex``, and the
  fingerprint there must be its ``headFingerprint``.

``CompletenessWatch`` is an ``ExportChecker`` delta hook: it keeps only the fingerprints at the
indexes asked about.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacspace_verify.derive import ExportChecker
from pacspace_verify.inputs import UnusableInput, read_token
from pacspace_verify.proof_token import Token, decode_token
from pacspace_verify.protocol import CheckResult, describe, hx

COMPLETENESS_CHECKS = ("kept_receipts", "checkpoints")
NAMED = 20  # missing receipts named in a check's detail


@dataclass(frozen=True)
class KeptReceipt:
    """What identifies a delta the customer was told about."""

    line: int
    receipt_id: str | None
    customer_index: int
    fingerprint: bytes
    customer_id: str | None

    def label(self) -> str:
        return f"customerIndex {self.customer_index} ({self.receipt_id or 'no receiptId'})"


@dataclass(frozen=True)
class KeptCheckpoint:
    source: str
    token: Token


def _receipt_fields(item: Any, where: str, line: int) -> KeptReceipt:
    if not isinstance(item, dict):
        raise UnusableInput(f"{where} line {line}: expected a receipt (a JSON object), got {describe(item)}")
    if "receiptId" not in item and isinstance(item.get("data"), dict):
        item = item["data"]  # an envelope around the payload
    index = item.get("customerIndex")
    fingerprint = item.get("fingerprint")
    if index is None and isinstance(item.get("typedData"), dict):  # a proof bundle kept as the receipt
        message = item["typedData"].get("message")
        index = message.get("customerIndex") if isinstance(message, dict) else None
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise UnusableInput(f"{where} line {line}: no customerIndex in {describe(item)}")
    if not isinstance(fingerprint, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", fingerprint):
        raise UnusableInput(f"{where} line {line}: no 32-byte 0x fingerprint in {describe(item)}")
    receipt_id = item.get("receiptId")
    customer_id = item.get("customerId")
    return KeptReceipt(
        line,
        receipt_id if isinstance(receipt_id, str) else None,
        index,
        bytes.fromhex(fingerprint[2:]),
        customer_id if isinstance(customer_id, str) else None,
    )


def read_kept_receipts(source: str) -> list[KeptReceipt]:
    """JSON Lines of receipts; a ``batch.verified`` payload's ``receipts`` list counts as one a line each."""
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc
    kept: list[KeptReceipt] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise UnusableInput(f"{source} line {line_no} is not JSON: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("receipts"), list) and "receiptId" not in data:
            kept += [_receipt_fields(item, source, line_no) for item in data["receipts"]]
        else:
            kept.append(_receipt_fields(data, source, line_no))
    return kept


def read_checkpoints(arguments: list[str]) -> list[KeptCheckpoint]:
    out = []
    for argument in arguments:
        try:
            token = decode_token(read_token(argument))
        except ValueError as exc:
            raise UnusableInput(f"checkpoint {describe(argument)} cannot be decoded: {exc}") from exc
        out.append(KeptCheckpoint(argument, token))
    return out


@dataclass
class CompletenessWatch:
    """The export's fingerprints at the customer indexes the kept receipts and checkpoints name."""

    receipts: list[KeptReceipt]
    checkpoints: list[KeptCheckpoint]
    seen: dict[int, bytes | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wanted = {r.customer_index for r in self.receipts} | {c.token.to_index for c in self.checkpoints}

    def __call__(self, index: int, delta: int | None, fingerprint: bytes | None) -> None:
        if index in self.wanted:
            self.seen[index] = fingerprint

    def results(self, checker: ExportChecker) -> tuple[list[CheckResult], list[dict[str, Any]]]:
        """The two checks (only those asked for) and one entry per kept item the export fails."""
        results: list[CheckResult] = []
        missing: list[dict[str, Any]] = []
        head = checker.head_index
        ends = "the export is empty" if head is None else f"the export ends at customerIndex {head}"
        if self.receipts:
            problems: list[str] = []
            for r in self.receipts:
                why = self._receipt_problem(r, checker, ends)
                if why is not None:
                    problems.append(f"{r.label()}: {why}")
                    missing.append(
                        {
                            "check": "kept_receipts",
                            "customerIndex": r.customer_index,
                            "receiptId": r.receipt_id,
                            "detail": why,
                        }
                    )
            results.append(_result("kept_receipts", problems, f"all {len(self.receipts)} kept receipt(s) are in it"))
        if self.checkpoints:
            problems = []
            for c in self.checkpoints:
                why = self._checkpoint_problem(c.token, checker, ends)
                if why is not None:
                    t = c.token
                    problems.append(f"checkpoint {t.from_index}..{t.to_index}: {why}")
                    missing.append(
                        {
                            "check": "checkpoints",
                            "customerIndex": t.to_index,
                            "receiptId": None,
                            "fromIndex": t.from_index,
                            "toIndex": t.to_index,
                            "countersigned": bool(t.countersignature),
                            "detail": why,
                        }
                    )
            last = max(c.token.to_index for c in self.checkpoints)
            results.append(
                _result(
                    "checkpoints",
                    problems,
                    f"the export reaches all {len(self.checkpoints)} checkpoint(s) (last toIndex {last}) with "
                    "their headFingerprint",
                )
            )
        return results, missing

    def _receipt_problem(self, r: KeptReceipt, checker: ExportChecker, ends: str) -> str | None:
        if checker.customer is not None and r.customer_id is not None and r.customer_id != checker.customer[1]:
            return (
                f"the receipt is for customer {describe(r.customer_id)}, the export for {describe(checker.customer[1])}"
            )
        if r.customer_index not in self.seen:
            return f"missing from the export ({ends}); kept fingerprint {hx(r.fingerprint)}"
        found = self.seen[r.customer_index]
        if found != r.fingerprint:
            shown = hx(found) if found is not None else "none"
            return f"the export's fingerprint there is {shown}, the kept receipt's {hx(r.fingerprint)}"
        return None

    def _checkpoint_problem(self, t: Token, checker: ExportChecker, ends: str) -> str | None:
        if checker.customer is not None and (t.tenant, t.customer_id) != checker.customer:
            return (
                f"the checkpoint is of {describe(t.tenant)}/{describe(t.customer_id)}, the export of "
                f"{describe(checker.customer[0])}/{describe(checker.customer[1])}"
            )
        if t.to_index not in self.seen:
            signed = "countersigned " if t.countersignature else ""
            return f"{ends}, before this {signed}checkpoint's toIndex {t.to_index}"
        found = self.seen[t.to_index]
        if found != t.head_fingerprint:
            shown = hx(found) if found is not None else "none"
            return f"the export's fingerprint at {t.to_index} is {shown}, the headFingerprint {hx(t.head_fingerprint)}"
        return None


def _result(name: str, problems: list[str], passed: str) -> CheckResult:
    if not problems:
        return CheckResult(name, True, passed)
    shown = "; ".join(problems[:NAMED])
    more = f"; … and {len(problems) - NAMED} more" if len(problems) > NAMED else ""
    return CheckResult(name, False, f"{len(problems)} not in the export: {shown}{more}")
