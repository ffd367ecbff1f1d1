"""The verifier's completeness checks (derive --receipts / --checkpoint): reading what the customer
kept, and judging an export's fingerprints against it. Without a chain: the export side is a stub
with the two attributes the checks read; tests/integration/test_completeness.py runs them for real."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support import load_verifier, worked_example

vr = load_verifier()
completeness = importlib.import_module("pacspace_verify.completeness")
FP = ["0x" + f"{i:02x}" * 32 for i in range(1, 5)]


def _write(tmp_path: Path, items: list[Any]) -> str:
    path = tmp_path / "kept.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items) + "\n")
    return str(path)


def test_every_receipt_shape_is_read(tmp_path: Path) -> None:
    webhook = {  # docs/WEBHOOKS.md, delta.verified
        "id": "evt_1", "type": "delta.verified", "createdAt": "2026-01-01T00:00:00Z", "receiptId": "rcpt_a",
        "fingerprint": FP[0], "customerId": "c", "referenceId": "r0", "delta": 5, "customerIndex": 0,
        "logIndex": 3, "verification": {"verified": True, "discrepancies": []}, "status": "success",
    }  # fmt: skip
    receipt = {"receiptId": "rcpt_b", "status": "pending", "customerId": "c", "customerIndex": 1, "fingerprint": FP[1]}
    aggregate = {"batch": {"id": 2}, "page": 1, "pages": 1, "receipts": [{**receipt, "receiptId": "rcpt_c",
                 "customerIndex": 2, "fingerprint": FP[2]}]}  # fmt: skip
    bundle = {"receiptId": "rcpt_d", "fingerprint": FP[3], "typedData": {"message": {"customerIndex": "3"}}}
    kept = completeness.read_kept_receipts(_write(tmp_path, [webhook, receipt, aggregate, {"data": bundle}]))
    assert [(k.receipt_id, k.customer_index, "0x" + k.fingerprint.hex()) for k in kept] == [
        ("rcpt_a", 0, FP[0]),
        ("rcpt_b", 1, FP[1]),
        ("rcpt_c", 2, FP[2]),
        ("rcpt_d", 3, FP[3]),
    ]


@pytest.mark.parametrize(
    "line",
    [
        {"receiptId": "r", "fingerprint": FP[0]},
        {"receiptId": "r", "customerIndex": 0, "fingerprint": "0x12"},
        {"receiptId": "r", "customerIndex": -1, "fingerprint": FP[0]},
        ["not", "an", "object"],
    ],
)
def test_a_receipt_without_index_or_fingerprint_is_unusable(tmp_path: Path, line: Any) -> None:
    with pytest.raises(vr.inputs.UnusableInput, match="line 1"):
        completeness.read_kept_receipts(_write(tmp_path, [line]))


def _watch(kept: list[dict[str, Any]], tmp_path: Path, tokens: list[str] | None = None) -> Any:
    return completeness.CompletenessWatch(
        completeness.read_kept_receipts(_write(tmp_path, kept)) if kept else [],
        completeness.read_checkpoints(tokens or []),
    )


def test_kept_receipts_missing_or_replaced_are_named(tmp_path: Path) -> None:
    kept = [{"receiptId": f"rcpt_{i}", "customerIndex": i, "fingerprint": FP[i]} for i in range(4)]
    watch = _watch(kept, tmp_path)
    for i, fp in [(0, FP[0]), (1, FP[3]), (2, FP[2])]:  # index 1 replaced, index 3 never exported
        watch(i, 1, bytes.fromhex(fp[2:]))
    results, missing = watch.results(SimpleNamespace(head_index=2, customer=("default", "c")))
    assert [(r.name, r.ok) for r in results] == [("kept_receipts", False)]
    assert [(m["customerIndex"], m["receiptId"]) for m in missing] == [(1, "rcpt_1"), (3, "rcpt_3")]
    assert "ends at customerIndex 2" in missing[1]["detail"] and "2 not in the export" in results[0].detail
    all_there = _watch(kept[:3], tmp_path)
    for i in range(3):
        all_there(i, 1, bytes.fromhex(FP[i][2:]))
    results, missing = all_there.results(SimpleNamespace(head_index=2, customer=("default", "c")))
    assert results[0].ok and missing == []


def test_an_export_ending_before_a_checkpoint_fails_checkpoints(tmp_path: Path) -> None:
    example = worked_example()
    token_hex: str = example["expected"]["proofToken"]
    token = vr.proof_token.decode_token(bytes.fromhex(token_hex[2:]))
    who = (token.tenant, token.customer_id)
    watch = _watch([], tmp_path, [token_hex])
    results, missing = watch.results(SimpleNamespace(head_index=None, customer=who))
    assert [(r.name, r.ok) for r in results] == [("checkpoints", False)]
    assert missing[0]["toIndex"] == token.to_index and "export is empty" in missing[0]["detail"]
    watch(token.to_index, 1, token.head_fingerprint)
    assert watch.results(SimpleNamespace(head_index=token.to_index, customer=who))[0][0].ok
    other = _watch([], tmp_path, [token_hex])
    other(token.to_index, 1, b"\x00" * 32)
    results, _ = other.results(SimpleNamespace(head_index=token.to_index, customer=who))
    assert not results[0].ok and "headFingerprint" in results[0].detail


def test_derive_help_documents_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        vr.main(["derive", "--help"])
    text = capsys.readouterr().out
    assert "--receipts KEPT" in text and "--checkpoint TOKEN" in text
    assert "kept_receipts" in text and "checkpoints" in text
