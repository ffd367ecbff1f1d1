"""scripts/verify_receipt.py `evidence` mode (a comparison's evidence pack), without a chain.

The packs are built here as GET /v1/comparisons/{id}/evidence serves them (pacspace.evidence.v1),
around proof bundles generated from docs/PROTOCOL.md's rules by the derive tests' helpers and
"anchored" on their in-memory fake chain; never from the node.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_verifier_derive import CONTRACT, FakeChain, make_export, vr

CHECKS = ["format", "arithmetic", "coverage", "items", "bundles", "resolution"]
ONLY_IN_RECORD = (11, 3)  # newest first, as the node lists them; delta 3 is 10**40
MISMATCHED = {2: 5, 10: -7}  # customerIndex -> what they add to the record's amount
EXTRA = ("x1", 12)  # a referenceId only they have, and its amount


def _delta(bundle: dict[str, Any]) -> int:
    return int(bundle["typedData"]["message"]["delta"])


def _item(bundle: dict[str, Any]) -> dict[str, Any]:
    m = bundle["typedData"]["message"]
    return {
        "receiptId": bundle["receiptId"],
        "referenceId": m["referenceId"],
        "delta": int(m["delta"]),
        "customerIndex": int(m["customerIndex"]),
    }


def make_pack(
    absolute: int | None = 5, basis_points: int | None = None, resolution: str = "needs_evidence"
) -> tuple[dict[str, Any], FakeChain]:
    """12 recorded deltas in 2 batches; they miss 11 and 3, differ on 2 and 10, add x1."""
    bundles, chain, _ = make_export(n=12, corrections={})
    record = sum(_delta(b) for b in bundles)
    theirs = sum(_delta(b) + MISMATCHED.get(i, 0) for i, b in enumerate(bundles) if i not in ONLY_IN_RECORD)
    theirs += EXTRA[1]
    pack = {
        "version": "pacspace.evidence.v1",
        "comparison": {
            "comparisonId": "cmp_0123456789abcdef01234567",
            "customerId": "cust_derive",
            "asOf": {"customerIndex": None},
            "recordBalance": record,
            "theirBalance": theirs,
            "variance": theirs - record,
            "tolerance": {"absolute": absolute, "basisPoints": basis_points},
            "resolution": resolution,
            "settlementReceiptId": "rcpt_settle" if resolution == "auto_settled" else None,
        },
        "evidence": {
            "onlyInRecord": [_item(bundles[i]) for i in ONLY_IN_RECORD],
            "onlyInTheirs": [EXTRA[0]],
            "amountMismatch": [
                {
                    "referenceId": bundles[i]["typedData"]["message"]["referenceId"],
                    "receiptId": bundles[i]["receiptId"],
                    "record": _delta(bundles[i]),
                    "theirs": _delta(bundles[i]) + extra,
                }
                for i, extra in MISMATCHED.items()
            ],
            "pending": [{"receiptId": "rcpt_12", "referenceId": "ref_12", "delta": 7, "customerIndex": 12}],
            "counts": {"onlyInRecord": 2, "onlyInTheirs": 1, "amountMismatch": 2, "pending": 1, "matched": 8},
        },
        "bundles": [bundles[i] for i in (*ONLY_IN_RECORD, *MISMATCHED)],
    }
    return pack, chain


def _run(
    tmp_path: Path,
    pack: Any,
    chain: FakeChain,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack))
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    code = vr.main(["evidence", str(path), "--rpc", "fake://chain", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _failed(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}


# --- a valid pack ----------------------------------------------------------------------------


def test_a_valid_pack_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    variance = pack["comparison"]["variance"]
    assert variance < -(10**40) + 10_000  # beyond a double and int64: the arithmetic is exact
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 0, _failed(report)
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert report["ok"] is True
    assert report["bundleFailures"] == [] and report["bundleFailureCount"] == 0
    assert report["comparison"]["variance"] == str(variance)
    assert report["comparison"]["customerId"] == "cust_derive"
    assert report["contract"] == CONTRACT.lower() and report["contractPinned"] is False
    assert report["summary"].startswith("verified: all 6 checks passed; 4 disputed record item(s)")
    # Chain facts once per batch (two batches), as derive fetches them.
    assert chain.calls == Counter(
        chain_id=1,
        code_size=1,
        is_anchorer=1,
        head=1,
        batch_commitment=2,
        transaction_receipt=2,
        block_hash=2,
        verify=2,
    )


def test_text_output_starts_with_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack))
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["evidence", str(path), "--contract", CONTRACT]) == 0
    out = capsys.readouterr().out.splitlines()
    c = pack["comparison"]
    assert out[0] == f"evidence: {path} (pacspace.evidence.v1)"
    assert out[1] == "comparison: cmp_0123456789abcdef01234567 for customer cust_derive (as of latest)"
    assert out[2] == (
        f"record balance: {c['recordBalance']}; their balance: {c['theirBalance']}; "
        f"variance (theirs − record): {c['variance']}"
    )
    assert out[3] == "resolution: needs_evidence (tolerance: absolute 5)"
    assert out[4] == "counts: onlyInRecord 2, onlyInTheirs 1, amountMismatch 2, pending 1, matched 8"
    assert [line.split(":")[0] for line in out if line[:1] in "✓✗"] == [f"✓ {name}" for name in CHECKS]
    assert any(line.startswith("✓ resolution: needs_evidence: variance") and "beyond" in line for line in out)
    assert out[-1].startswith("verified: all 6 checks passed")


def test_help_names_the_evidence_mode(capsys: Any) -> None:
    for argv in (["--help"], ["evidence", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            vr.main(argv)
        assert exit_info.value.code == 0
        assert "evidence PACK.json" in capsys.readouterr().out
    assert "evidence PACK.json" in (vr.__doc__ or "")


# --- each failure is named -------------------------------------------------------------------


def test_a_mismatch_whose_record_amount_differs_from_its_bundle_fails_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pack, chain = make_pack()
    pack["evidence"]["amountMismatch"][0]["record"] += 1
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 1
    failed = _failed(report)
    assert set(failed) == {"items"}
    assert "amountMismatch[0] (rcpt_2)" in failed["items"] and "bundle's delta" in failed["items"]


@pytest.mark.parametrize(
    ("field", "value", "wanted"),
    [
        ("referenceId", "ref_other", "referenceId"),
        ("customerIndex", 4, "customerIndex 4"),
        ("delta", 1, "delta 1, bundle's delta"),
    ],
)
def test_an_only_in_record_item_must_say_what_its_bundle_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, field: str, value: Any, wanted: str
) -> None:
    pack, chain = make_pack()
    pack["evidence"]["onlyInRecord"][1][field] = value
    _, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    failed = _failed(report)
    assert set(failed) == {"items"}
    assert "onlyInRecord[1] (rcpt_3)" in failed["items"] and wanted in failed["items"]


def test_another_customers_comparison_fails_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["comparison"]["customerId"] = "cust_other"
    _, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert set(_failed(report)) == {"items"}
    assert 'the comparison\'s "cust_other"' in _failed(report)["items"]


def test_a_missing_bundle_fails_coverage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["bundles"] = [b for b in pack["bundles"] if b["receiptId"] != "rcpt_10"]
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 1
    failed = _failed(report)
    assert set(failed) == {"coverage"}
    assert "no bundle for rcpt_10 (amountMismatch[1])" in failed["coverage"]


def test_an_extra_or_repeated_bundle_fails_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pack, chain = make_pack()
    extra, _, _ = make_export(n=6, corrections={})
    pack["bundles"] = [*pack["bundles"], pack["bundles"][0], extra[5]]
    _, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    failed = _failed(report)
    assert "coverage" in failed
    assert "2 bundles for rcpt_11" in failed["coverage"]
    assert "bundles[5] (rcpt_5) is for no receipt" in failed["coverage"]


def test_a_tampered_bundle_fails_bundles_naming_the_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pack, chain = make_pack()
    pack["bundles"][1]["typedData"]["message"]["reason"] = "rewritten"  # rcpt_3: the signed digest differs
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 1
    failed = _failed(report)
    assert set(failed) == {"bundles"}
    assert failed["bundles"] == "1 of 4 bundle(s) failed: rcpt_3 (fingerprint)"
    assert [(f["receiptId"], f["check"], f["customerIndex"]) for f in report["bundleFailures"]] == [
        ("rcpt_3", "fingerprint", 3)
    ]


def test_bundle_failures_are_listed_in_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["bundles"][2]["proof"][0] = "0x" + "11" * 32  # rcpt_2
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack))
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: chain)
    assert vr.main(["evidence", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("✗ bundles: 1 of 4 bundle(s) failed: rcpt_2 (proof, commitment)") for line in out)
    assert any(line.startswith("✗ rcpt_2 (bundles[2]): proof: ") for line in out)
    assert out[-1] == "NOT VERIFIED: 1 of 6 checks failed (bundles)"


def test_pinning_another_contract_fails_every_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pack, chain = make_pack()
    _, report = _run(tmp_path, pack, chain, monkeypatch, capsys, "--contract", "0x" + "22" * 20)
    assert set(_failed(report)) == {"bundles"}
    assert {f["receiptId"] for f in report["bundleFailures"]} == {"rcpt_11", "rcpt_3", "rcpt_2", "rcpt_10"}
    assert {f["check"] for f in report["bundleFailures"]} >= {"domain", "anchorer", "commitment"}


def test_a_wrong_variance_fails_arithmetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["comparison"]["variance"] += 1
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 1
    failed = _failed(report)
    assert set(failed) == {"arithmetic"}
    assert failed["arithmetic"].startswith(f"variance is {pack['comparison']['variance']}, theirBalance")


def test_a_wrong_count_fails_arithmetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["evidence"]["counts"]["onlyInTheirs"] = 3
    _, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert _failed(report) == {"arithmetic": "counts.onlyInTheirs is 3, the list holds 1"}


@pytest.mark.parametrize(
    ("tolerance", "resolution", "ok"),
    [
        ({"absolute": 5}, "auto_settled", False),  # beyond: it cannot be settled
        ({"absolute": 10**41}, "auto_settled", True),
        ({"absolute": 10**41}, "needs_evidence", False),  # within: it should have been settled
        ({"basisPoints": 10_000}, "needs_evidence", False),  # |variance| < |recordBalance|
        ({"basisPoints": 10_000, "absolute": 5}, "needs_evidence", True),  # both must hold
        ({"basisPoints": 1}, "needs_evidence", True),
        ({}, "needs_evidence", True),  # none set: only 0 is within
        ({"absolute": 10**41}, "match", False),  # variance and differences
    ],
)
def test_the_resolution_must_agree_with_the_tolerance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, tolerance: dict[str, int], resolution: str, ok: bool
) -> None:
    pack, chain = make_pack(tolerance.get("absolute"), tolerance.get("basisPoints"), resolution)
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == (0 if ok else 1)
    assert set(_failed(report)) == (set() if ok else {"resolution"})
    detail = {c["name"]: c["detail"] for c in report["checks"]}["resolution"]
    assert detail.startswith(resolution)


def test_a_match_needs_variance_zero_and_no_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pack, chain = make_pack(resolution="match")
    c, e = pack["comparison"], pack["evidence"]
    c["theirBalance"] = c["recordBalance"]
    c["variance"] = 0
    e["onlyInTheirs"], e["counts"]["onlyInTheirs"] = [], 0
    _, report = _run(tmp_path, copy.deepcopy(pack), chain, monkeypatch, capsys)
    assert "amountMismatch" in _failed(report)["resolution"]
    e["amountMismatch"], e["counts"]["amountMismatch"] = [], 0
    pack["bundles"] = pack["bundles"][:2]
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 0, _failed(report)


@pytest.mark.parametrize(
    ("variance", "record", "absolute", "basis_points", "within"),
    [
        (0, 100, None, None, True),
        (1, 100, None, None, False),
        (-5, 100, 5, None, True),
        (6, 100, 5, None, False),
        (1, 122, None, 100, True),  # 1% of 122 is 1.22
        (2, 122, None, 100, False),
        (-2, -200, None, 100, True),  # |recordBalance|
        (2, 200, 1, 100, False),  # both must hold
        (10**40, 10**44, None, 1, True),  # exact with int256-sized values
        (10**40 + 1, 10**44, None, 1, False),
    ],
)
def test_within_tolerance(
    variance: int, record: int, absolute: int | None, basis_points: int | None, within: bool
) -> None:
    assert vr.within_tolerance(variance, record, absolute, basis_points) is within


# --- malformed packs -------------------------------------------------------------------------


def test_format_names_each_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pack, chain = make_pack()
    pack["version"] = "pacspace.evidence.v0"
    pack["comparison"]["recordBalance"] = str(pack["comparison"]["recordBalance"])
    pack["comparison"]["resolution"] = "settled"
    del pack["evidence"]["counts"]["matched"]
    code, report = _run(tmp_path, pack, chain, monkeypatch, capsys)
    assert code == 1
    failed = _failed(report)
    assert failed["format"].startswith("4 problem(s): version: unknown version")
    assert "comparison.recordBalance: expected a JSON integer" in failed["format"]
    assert "evidence.counts.matched: missing" in failed["format"]
    assert "skipped: recordBalance, counts missing or malformed" in failed["arithmetic"]
    assert "skipped: resolution" in failed["resolution"]


@pytest.mark.parametrize("raw", [[1, 2], {"comparisonId": "cmp_x"}])
def test_json_that_is_no_pack_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, raw: Any) -> None:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: FakeChain())
    (tmp_path / "other.json").write_text(json.dumps(raw))
    assert vr.main(["evidence", str(tmp_path / "other.json"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "is not an evidence pack" in captured.err


def test_a_pack_of_the_wrong_shape_fails_every_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, report = _run(tmp_path, {"version": 1, "comparison": [], "evidence": 2}, FakeChain(), monkeypatch, capsys)
    assert code == 1
    assert list(_failed(report)) == CHECKS


def test_unusable_input_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(vr, "RpcChain", lambda url, *a, **k: FakeChain())
    assert vr.main(["evidence", str(tmp_path / "missing.json")]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert vr.main(["evidence", str(tmp_path / "bad.json"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot read" in captured.err and "is not JSON" in captured.err
