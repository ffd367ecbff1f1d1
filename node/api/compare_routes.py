"""Compare: JSON for modest sets, CSV (``referenceId,delta`` per row) for large ones; the evidence pack.

Before a byte of the body is read: the key's scope, the customer (``customerId`` in the query, for JSON
and CSV alike: a customer-scoped key asking for another customer gets the 404 an unknown one gets) and
a free comparison slot. The body is then spooled to a private temporary file and parsed and compared
in a worker thread (node.compare), never on the event loop.
"""

from __future__ import annotations

import html
import json
import tempfile
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from node.api.auth import AdminDep, Principal, ReaderDep
from node.api.blocking import small_read
from node.api.deps import ComparisonsDep, ServicesDep, StoreDep
from node.api.routes import ERRORS
from node.api.schemas import TenantSettings, from_comparison, from_comparison_summary
from node.api.strict_json import StrictJsonRoute
from node.compare.service import Upload, set_tenant_tolerance, tenant_tolerance
from node.core.compare import Tolerance
from node.core.deltas import MAX_CUSTOMER_ID, MAX_INDEX
from node.core.errors import FieldError, Gone, InvalidInput, NotFound
from node.core.typed_data import INT256_MAX, INT256_MIN
from node.services import Services
from node.store.models import ComparisonRow
from node.webhooks.events import iso

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
EVIDENCE_V1 = "pacspace.evidence.v1"  # every difference listed (comparisons stored before v2)
EVIDENCE_V2 = "pacspace.evidence.v2"  # each list cut to evidence.limit, counts complete


def _tolerance(absolute: int | None, basis_points: int | None) -> Tolerance | None:
    return None if absolute is None and basis_points is None else Tolerance(absolute, basis_points)


def may_settle(principal: Principal) -> bool:
    """Only a key that may write to the record settles a variance on it: write or admin scope, no customer."""
    return principal.customer_id is None and bool({"write", "admin"} & principal.scopes)


_SPOOL_WRITE = 1 << 20  # bytes gathered before one write, made in a worker thread


async def _spool(request: Request) -> IO[bytes]:
    """The body in a private temporary file (0600, removed when closed), read as it arrives: the request
    guard has already bounded its size. The event loop only gathers chunks; disk writes go to a thread."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
    try:
        gathered = bytearray()
        async for chunk in request.stream():
            gathered += chunk
            if len(gathered) >= _SPOOL_WRITE:
                await run_in_threadpool(spool.write, bytes(gathered))
                gathered.clear()
        await run_in_threadpool(spool.write, bytes(gathered))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


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
    responses={200: {"description": "the same settlement asked again: the first comparison"}, **ERRORS},
    summary="Compare the counterparty's balance or deltas with the record (JSON, or text/csv for large sets)",
    openapi_extra={"requestBody": COMPARE_BODY},
)
async def compare(
    request: Request,
    principal: ReaderDep,
    comparisons: ComparisonsDep,
    customerId: Annotated[
        str, Query(min_length=1, max_length=MAX_CUSTOMER_ID, description="the customer compared (JSON and CSV)")
    ],
    theirBalance: Annotated[int | None, Query(ge=INT256_MIN, le=INT256_MAX, description="CSV uploads only")] = None,
    asOfIndex: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="CSV uploads only")] = None,
    toleranceAbsolute: Annotated[int | None, Query(ge=0, le=INT256_MAX)] = None,
    toleranceBasisPoints: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> JSONResponse:
    if principal.customer_id is not None and principal.customer_id != customerId:
        raise NotFound(f"unknown customer {customerId!r}: no deltas recorded")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = "csv" if content_type == "text/csv" else "json"
    if kind == "json" and (theirBalance is not None or asOfIndex is not None):
        field = "theirBalance" if theirBalance is not None else "asOfIndex"
        raise InvalidInput(
            f"{field} goes in the JSON body (the query's is for CSV uploads)",
            errors=[FieldError(field, "only with text/csv; send it in the JSON body")],
        )
    await small_read(comparisons.store, comparisons.require_customer, tenant=principal.tenant, customer_id=customerId)
    with comparisons.slot():
        body = await _spool(request)
        try:
            upload = Upload(
                kind=kind,
                body=body,
                customer_id=customerId,
                max_items=comparisons.max_items,
                their_balance=theirBalance,
                as_of_index=asOfIndex,
                tolerance=_tolerance(toleranceAbsolute, toleranceBasisPoints),
            )
            outcome = await run_in_threadpool(
                comparisons.run_upload,
                tenant=principal.tenant,
                key_id=principal.key_id,
                upload=upload,
                may_settle=may_settle(principal),
            )
        finally:
            body.close()
    return JSONResponse(
        from_comparison(outcome.row),
        status_code=201 if outcome.created else 200,
        headers={"Location": f"/v1/comparisons/{outcome.row.id}"},
    )


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
    pack = evidence_pack(services, principal.tenant, row)
    if format == "html":
        return HTMLResponse(_summary_html(pack["comparison"], pack["evidence"]))
    return pack


def evidence_pack(services: Services, tenant: str, row: ComparisonRow) -> dict[str, Any]:
    """The evidence pack: the comparison, its differences (every one in pacspace.evidence.v1, each list
    cut to evidence.limit with complete counts in v2), and the proof bundle of each disputed record item
    listed; what ``pacspace-verify evidence`` checks. Also the portal's download. Raises Gone once the
    evidence has expired (the comparison and its counts remain)."""
    if row.evidence_expired_at is not None:
        raise Gone(
            f"the evidence of {row.id} expired on {iso(row.evidence_expired_at)} (the node keeps evidence "
            f"{services.settings.evidence_retention_days:g} days); the comparison, its counts and settlement remain"
        )
    full = json.loads(row.evidence)
    disputed = [i["receiptId"] for i in full["onlyInRecord"]] + [m["receiptId"] for m in full["amountMismatch"]]
    bundles = [services.receipts.proof_bundle(tenant=tenant, receipt_id=r) for r in disputed]
    version = EVIDENCE_V2 if "limit" in full else EVIDENCE_V1
    return {"version": version, "comparison": from_comparison_summary(row), "evidence": full, "bundles": bundles}


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
        "within_tolerance": "The variance is within tolerance; nothing was settled (only a key with write scope "
        "settles).",
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
