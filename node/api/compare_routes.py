"""Compare: JSON for modest sets, streamed CSV (``referenceId,delta`` per row) for large ones."""

from __future__ import annotations

import codecs
import csv
import html
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from node.api.auth import AdminDep, ReaderDep
from node.api.deps import ComparisonsDep, ServicesDep, StoreDep
from node.api.routes import ERRORS
from node.api.schemas import CompareBody, TenantSettings, from_comparison, from_comparison_summary
from node.compare.service import CompareRequest, set_tenant_tolerance, tenant_tolerance
from node.core.compare import Tolerance
from node.core.errors import FieldError, InvalidInput, NotFound
from node.core.typed_data import INT256_MAX, INT256_MIN
from node.services import Services
from node.store.models import ComparisonRow

router = APIRouter(prefix="/v1")
MAX_CSV_ROWS = 5_000_000


def _tolerance(absolute: int | None, basis_points: int | None) -> Tolerance | None:
    return None if absolute is None and basis_points is None else Tolerance(absolute, basis_points)


async def _csv_rows(stream: AsyncIterator[bytes]) -> list[tuple[str, int]]:
    """Parse ``referenceId,delta`` rows (a header row is optional) as the body streams in."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    rows: list[tuple[str, int]] = []
    pending = ""
    line_no = 0

    def take(line: str) -> None:
        nonlocal line_no
        line_no += 1
        if not line.strip():
            return
        fields = next(csv.reader([line]))
        if line_no == 1 and [f.strip() for f in fields] == ["referenceId", "delta"]:
            return
        where = f"row {line_no}"
        if len(fields) != 2:
            raise InvalidInput(f"{where}: expected 2 columns", errors=[FieldError(where, "expected referenceId,delta")])
        reference_id, amount_text = fields[0].strip(), fields[1].strip()
        if not reference_id or len(reference_id) > 128:
            raise InvalidInput(
                f"{where}: bad referenceId", errors=[FieldError(where, "referenceId must be 1-128 chars")]
            )
        if not amount_text.lstrip("-").isdigit() or len(amount_text) > 80:
            raise InvalidInput(
                f"{where}: delta {amount_text!r} is not an integer",
                errors=[FieldError(where, "delta must be an integer in minor units")],
            )
        amount = int(amount_text)
        if not INT256_MIN <= amount <= INT256_MAX:
            raise InvalidInput(f"{where}: delta outside int256", errors=[FieldError(where, "delta outside int256")])
        if len(rows) >= MAX_CSV_ROWS:
            raise InvalidInput("too many rows", errors=[FieldError(where, f"at most {MAX_CSV_ROWS} rows")])
        rows.append((reference_id, amount))

    try:
        async for chunk in stream:
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                take(line.rstrip("\r"))
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8", errors=[FieldError(f"row {line_no + 1}", "not UTF-8")]) from None
    if pending.strip():
        take(pending.rstrip("\r"))
    return rows


# The route reads its body itself (JSON, or CSV streamed), so FastAPI cannot see it: declared here.
COMPARE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CompareBody"}},
        "text/csv": {
            "schema": {"type": "string", "description": "rows referenceId,delta; a header row is optional"},
            "example": "referenceId,delta\nreq_abc123,-1000\n",
        },
    },
}


@router.post(
    "/balance/compare",
    status_code=201,
    responses={**ERRORS},
    summary="Compare the counterparty's balance or deltas with the record (JSON, or text/csv for large sets)",
    openapi_extra={"requestBody": COMPARE_BODY},
)
async def compare(
    request: Request,
    principal: ReaderDep,
    comparisons: ComparisonsDep,
    customerId: Annotated[str | None, Query(max_length=128, description="CSV uploads only")] = None,
    theirBalance: Annotated[int | None, Query(description="CSV uploads only")] = None,
    asOfIndex: Annotated[int | None, Query(ge=0, description="CSV uploads only")] = None,
    toleranceAbsolute: Annotated[int | None, Query(ge=0)] = None,
    toleranceBasisPoints: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        if not customerId:
            raise InvalidInput("customerId is required", errors=[FieldError("customerId", "is required")])
        req = CompareRequest(
            customer_id=customerId,
            their_deltas=iter(await _csv_rows(request.stream())),
            their_balance=theirBalance,
            as_of_index=asOfIndex,
            tolerance=_tolerance(toleranceAbsolute, toleranceBasisPoints),
            field_prefix="row",
        )
    else:
        try:
            body = CompareBody.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = [FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()]
            raise InvalidInput("the comparison request is not valid", errors=errors) from None
        if body.theirBalance is None and body.theirDeltas is None:
            raise InvalidInput(
                "send theirBalance, theirDeltas or both",
                errors=[FieldError("theirDeltas", "theirBalance or theirDeltas is required")],
            )
        req = CompareRequest(
            customer_id=body.customerId,
            their_deltas=None
            if body.theirDeltas is None
            else iter([(d.referenceId, d.delta) for d in body.theirDeltas]),
            their_balance=body.theirBalance,
            as_of_index=None if body.asOf is None else body.asOf.customerIndex,
            as_of_recorded_at=None if body.asOf is None else body.asOf.recordedAt,
            tolerance=None
            if body.tolerance is None
            else _tolerance(body.tolerance.absolute, body.tolerance.basisPoints),
        )
    if principal.customer_id is not None and principal.customer_id != req.customer_id:
        raise NotFound(f"unknown customer {req.customer_id!r}: no deltas recorded")
    row = await run_in_threadpool(comparisons.run, tenant=principal.tenant, key_id=principal.key_id, req=req)
    return from_comparison(row)


@router.get("/comparisons/{comparison_id}", responses=ERRORS, summary="A comparison and its evidence lists")
def get_comparison(comparison_id: str, comparisons: ComparisonsDep, principal: ReaderDep) -> dict[str, Any]:
    row = comparisons.get(tenant=principal.tenant, comparison_id=comparison_id, customer_id=principal.customer_id)
    return from_comparison(row)


@router.get(
    "/comparisons/{comparison_id}/evidence",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}, **ERRORS},
    summary="The evidence pack: every difference with the proof bundle of each disputed record item",
)
def evidence(
    comparison_id: str,
    services: ServicesDep,
    principal: ReaderDep,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Any:
    row = services.comparisons.get(
        tenant=principal.tenant, comparison_id=comparison_id, customer_id=principal.customer_id
    )
    if format == "html":
        return HTMLResponse(_summary_html(from_comparison_summary(row), json.loads(row.evidence)))
    return evidence_pack(services, principal.tenant, row)


def evidence_pack(services: Services, tenant: str, row: ComparisonRow) -> dict[str, Any]:
    """The evidence pack (pacspace.evidence.v1): the comparison, every difference, and the proof bundle of
    each disputed record item; what ``pacspace-verify evidence`` checks. Also the portal's download."""
    full = json.loads(row.evidence)
    disputed = [i["receiptId"] for i in full["onlyInRecord"]] + [m["receiptId"] for m in full["amountMismatch"]]
    bundles = [services.receipts.proof_bundle(tenant=tenant, receipt_id=r) for r in disputed]
    return {
        "version": "pacspace.evidence.v1",
        "comparison": from_comparison_summary(row),
        "evidence": full,
        "bundles": bundles,
    }


def _summary_html(summary: dict[str, Any], full: dict[str, Any]) -> str:
    e = html.escape
    counts = full["counts"]
    rows = "".join(
        f"<tr><td>{e(m['referenceId'])}</td><td>{e(m['receiptId'])}</td><td>{m['record']}</td><td>{m['theirs']}</td></tr>"
        for m in full["amountMismatch"][:200]
    )
    missing = "".join(
        f"<li>{e(i['referenceId'])} ({i['delta']}, receipt {e(i['receiptId'])})</li>"
        for i in full["onlyInRecord"][:200]
    )
    extra = "".join(f"<li>{e(r)}</li>" for r in full["onlyInTheirs"][:200])
    verdict = {
        "match": "The two views match.",
        "auto_settled": "The variance is within tolerance: the record's figure stands and the settlement is recorded.",
        "needs_evidence": "The variance is beyond tolerance: resolve it with the evidence below.",
    }[summary["resolution"]]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Comparison {e(summary["comparisonId"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
td,th{{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}}</style></head><body>
<h1>Comparison for customer {e(summary["customerId"])}</h1>
<p><strong>{e(verdict)}</strong></p>
<table><tr><th>Record balance</th><td>{summary["recordBalance"]}</td></tr>
<tr><th>Their balance</th><td>{summary["theirBalance"]}</td></tr>
<tr><th>Variance (theirs − record)</th><td>{summary["variance"]}</td></tr>
<tr><th>Resolution</th><td>{e(summary["resolution"])}</td></tr>
<tr><th>Matched deltas</th><td>{counts["matched"]}</td></tr></table>
<h2>Amounts that differ ({counts["amountMismatch"]})</h2>
<table><tr><th>Reference</th><th>Receipt</th><th>Record</th><th>Theirs</th></tr>{rows}</table>
<h2>On the record, missing from theirs ({counts["onlyInRecord"]})</h2><ul>{missing}</ul>
<h2>In theirs, not on the record ({counts["onlyInTheirs"]})</h2><ul>{extra}</ul>
<h2>Not yet verified, not counted ({counts["pending"]})</h2>
<p>Each record item above has a proof bundle in the JSON evidence pack; check them with
<code>pacspace-verify</code> against the chain.</p></body></html>"""


@router.get("/settings", responses=ERRORS, summary="This tenant's settings")
def get_settings(store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    return {"tolerance": tenant_tolerance(store, principal.tenant).to_json()}


@router.put("/settings", responses=ERRORS, summary="Set this tenant's comparison tolerance")
def put_settings(body: TenantSettings, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    tolerance = Tolerance(body.tolerance.absolute, body.tolerance.basisPoints)
    set_tenant_tolerance(store, principal.tenant, tolerance)
    return {"tolerance": tolerance.to_json()}
