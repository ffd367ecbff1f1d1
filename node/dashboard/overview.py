"""The overview: deltas recorded and verified per day, what waits now, the last batch, gas and cost."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from node.api.deps import ServicesDep
from node.api.schemas import from_usage_report
from node.core.hashing import to_hex
from node.dashboard.charts import bar_chart
from node.dashboard.web import DashboardRoute, SessionDep, render
from node.store.dashboard import tenant_anchoring, tenant_batches
from node.usage.service import build_usage_report

router = APIRouter(route_class=DashboardRoute)
DAYS = 30


def _charts(report: dict[str, Any]) -> list[Any]:
    days = [d["date"] for d in report["days"]]
    recorded = [d["deltasRecorded"] for d in report["days"]]
    verified = [d["deltasVerified"] for d in report["days"]]
    gas = [d["gasUsed"] for d in report["days"]]
    cost_gwei = [int(d["costPerVerifiedDeltaWei"] or 0) / 10**9 for d in report["days"]]
    return [
        bar_chart(
            chart_id="chart-deltas",
            title="Deltas recorded and verified per day",
            summary=f"Over {len(days)} days: {sum(recorded):,} recorded, {sum(verified):,} verified.",
            days=days,
            series=[("recorded", recorded), ("verified", verified)],
        ),
        bar_chart(
            chart_id="chart-gas",
            title="Gas used per day (your share of each batch)",
            summary=f"Over {len(days)} days: {sum(gas):,} gas.",
            days=days,
            series=[("gas", gas)],
        ),
        bar_chart(
            chart_id="chart-cost",
            title="Cost per verified delta per day (gwei)",
            summary="Cost of the batches verified each day divided by the deltas they verified.",
            days=days,
            series=[("gwei per verified delta", cost_gwei)],
            value_label=lambda v: f"{v:,.0f}" if v >= 100 else f"{v:,.3g}",
            whole=False,
        ),
    ]


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def overview(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    state = services
    state.usage.flush()
    today = datetime.now(UTC).date()
    usage = build_usage_report(
        state.store,
        tenant=session.tenant,
        first=today - timedelta(days=DAYS - 1),
        last=today,
        native_price=state.settings.native_price,
        currency=state.settings.fiat_currency,
    )
    report = from_usage_report(usage)
    with state.store.session() as db:
        waiting = tenant_anchoring(session=db, tenant=session.tenant)
        last = tenant_batches(session=db, tenant=session.tenant, limit=1, mined_only=True)
    head = state.head_block()
    last_batch = None
    if last:
        batch = last[0].batch
        last_batch = {
            "row": batch,
            "root": to_hex(batch.root),
            "tx": None if batch.tx_hash is None else to_hex(batch.tx_hash),
            "confirmations": None
            if head is None or batch.block_number is None
            else max(0, head - batch.block_number + 1),
            "tenant_deltas": last[0].tenant_deltas,
        }
    lag = None if waiting.oldest_unverified_at is None else max(0, int(time.time()) - waiting.oldest_unverified_at)
    return render(
        request,
        "overview.html",
        session=session,
        nav="overview",
        title="Overview",
        report=report,
        charts=_charts(report),
        pending=waiting.unverified,
        lag=lag,
        last_batch=last_batch,
        head_block=head,
        anchor_error=state.anchor.last_error,
        signer=to_hex(state.signer.address),
        confirmations_required=state.settings.confirmations,
    )
