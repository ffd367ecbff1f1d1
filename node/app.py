"""``create_app(settings)``: builds the node's services, then the FastAPI app around them."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from eth_account import Account
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from node.anchoring.cycle import AnchorPolicy
from node.anchoring.scheduler import AnchorService
from node.api.admin import router as admin_router
from node.api.bulk import router as bulk_router
from node.api.compare_routes import router as compare_router
from node.api.event_mappings import router as event_mappings_router
from node.api.events import openmeter_router
from node.api.events import router as events_router
from node.api.ledger import router as ledger_router
from node.api.limits import RequestGuard
from node.api.observability import Observability
from node.api.openapi import NodeAPI, install_docs
from node.api.problems import install_problem_handlers
from node.api.routes import router
from node.api.webhook_routes import router as webhook_router
from node.chain.client import AnchorClient, TransactionSigner
from node.chain.errors import ChainUnavailable
from node.chain.providers import connect_configured
from node.chain.remote_signers import RemoteTransactionSigner, RemoteTypedDataSigner
from node.checkpoints.service import Checkpoints
from node.compare.service import Comparisons
from node.core.cloudevents import CLOUDEVENT_TYPES
from node.core.errors import ReceiptSignerRevoked
from node.core.finality import KNOWN_CHAINS
from node.core.hashing import from_hex, to_hex
from node.core.protocol import protocol_for_contract
from node.core.ratelimit import BucketPolicy, RateLimiter
from node.core.signing import ReceiptSigner, Signer
from node.core.typed_data import Domain
from node.dashboard import PREFIX as DASHBOARD_PREFIX
from node.dashboard import STATIC_DIR as DASHBOARD_STATIC
from node.dashboard import router as dashboard_router
from node.ingest.rules import IngestRulesService
from node.ledger.receipts import ReceiptReader
from node.ledger.recording import Recorder
from node.observability.metrics import NodeMetrics
from node.portal import PREFIX as PORTAL_PREFIX
from node.portal import router as portal_router
from node.services import Services
from node.settings import Settings
from node.store.batches import count_unbatched
from node.store.db import Store
from node.store.files import warn_if_open
from node.store.leader import leadership_for
from node.store.migrate import ensure_current
from node.usage.service import UsageMeter
from node.webhooks.delivery import WebhookWorker
from node.webhooks.url_policy import UrlPolicy

log = logging.getLogger("pacspace.app")


def build_services(settings: Settings, store: Store | None = None) -> Services:
    """Refuses (ChainMismatch) if the chain, the contract or the signer is not the configured one."""
    store = store or Store(
        settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms, pool_size=settings.db_pool_size
    )
    for keystore in (settings.receipt_signer_keystore, settings.anchor_keystore, settings.signer_keystore):
        if keystore is not None:
            warn_if_open(keystore)  # an encrypted key, but its password is the only thing left to guess
    ensure_current(store)
    signer = _receipt_signer(settings)
    chain = AnchorClient(connect_configured(settings), settings.contract_address, _anchor_account(settings))
    chain.check_identity(expected_chain_id=settings.chain_id, receipt_signer=signer.address)
    rule = settings.finality_rule()
    # The contract decides the protocol: a v1 contract keeps getting v1 receipts, a v2 contract v2.
    protocol = protocol_for_contract(chain.protocol_version())
    domain = Domain(settings.chain_id, from_hex(settings.contract_address, length=20), protocol)
    log.info(
        "receipt signer and anchoring key",
        extra={
            "receipt_signer": to_hex(signer.address),
            "anchorer": chain.account.address,
            "protocol": protocol.number,
            "receipt_signer_is_remote": not isinstance(signer, Signer),
            "anchorer_is_remote": isinstance(chain.account, RemoteTransactionSigner),
        },
    )
    log.info(
        "chain and finality",
        extra={
            "chain": KNOWN_CHAINS[settings.chain_id].name if settings.chain_id in KNOWN_CHAINS else "unknown chain id",
            "verified_when": rule.describe(),
            "rpc_providers": [f"{v.name} {v.url}" for v in chain.pool.views()] if chain.pool else [],
            "quorum": settings.quorum(),
            "max_fee_gwei": str(settings.max_fee_gwei) if settings.max_fee_gwei is not None else None,
        },
    )
    metrics = NodeMetrics()
    metrics.watch_store(store)
    if chain.pool is not None:
        metrics.watch_providers(chain.pool)
    scheduler = BackgroundScheduler(timezone=UTC)
    anchor = AnchorService(
        store=store,
        chain=chain,
        policy=AnchorPolicy(
            max_batch_size=settings.max_batch_size,
            confirmations=rule.confirmations,
            receipt_timeout=settings.receipt_timeout_seconds,
            finality=rule.mode,
            quorum=settings.quorum(),
            fees=settings.fee_policy(),
        ),
        interval_seconds=settings.anchor_interval_seconds,
        trigger_pending=settings.anchor_trigger_pending,
        scheduler=scheduler,
        metrics=metrics,
        leadership=leadership_for(store) if settings.run_anchorer else None,
    )

    def on_recorded() -> None:
        metrics.deltas_recorded.inc()
        anchor.notify_recorded()

    recorder = Recorder(store=store, domain=domain, signer=signer, on_recorded=on_recorded)
    return Services(
        settings=settings,
        store=store,
        signer=signer,
        domain=domain,
        metrics=metrics,
        usage=UsageMeter(store),
        scheduler=scheduler,
        anchor=anchor,
        recorder=recorder,
        receipts=ReceiptReader(store=store, domain=domain),
        checkpoints=Checkpoints(store=store, domain=domain, signer=signer),
        webhooks=WebhookWorker(
            store=store,
            policy=UrlPolicy(
                allow_loopback_http=settings.webhook_http_loopback_allowed(),
                private_hosts=settings.webhook_private_hosts(),
            ),
            concurrency=settings.webhook_concurrency,
            retry_base_seconds=settings.webhook_retry_base_seconds,
        ),
        comparisons=Comparisons(
            store=store,
            recorder=recorder,
            max_items=settings.max_compare_items,
            concurrency=settings.compare_concurrency,
        ),
        ingest=IngestRulesService(store),
        rate_limiter=RateLimiter(),
        key_policy=BucketPolicy(settings.rate_limit_per_second, settings.rate_limit_burst),
        auth_failure_policy=BucketPolicy(settings.auth_failure_per_second, settings.auth_failure_burst),
    )


def _receipt_signer(settings: Settings) -> ReceiptSigner:
    """The receipt signing key in memory, or an external EIP-712 signer (checked to hold the address)."""
    remote = settings.remote_signer("receipt_signer")
    if remote is None:
        return Signer(settings.receipt_signer_private_key())
    url, address = remote
    signer = RemoteTypedDataSigner(url, from_hex(address, length=20), timeout=settings.rpc_timeout_seconds)
    signer.check()
    return signer


def _anchor_account(settings: Settings) -> TransactionSigner:
    """The anchoring key in memory, or an external transaction signer."""
    remote = settings.remote_signer("anchor")
    if remote is None:
        account: TransactionSigner = Account.from_key(settings.anchor_private_key())
        return account
    url, address = remote
    signer = RemoteTransactionSigner(url, address, timeout=settings.rpc_timeout_seconds)
    signer.check()
    return signer


# py_ecc (imported through web3) raises the interpreter's recursion limit to 100,000 at import. The standard
# library's C JSON decoder recurses once per nesting level of a body up to that limit, and a body nested
# tens of thousands deep then overflows a thread's C stack (a segfault) instead of raising RecursionError.
# The node needs nothing that deep: parsing stops at a depth a thread's stack holds.
MAX_RECURSION = 10_000


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    sys.setrecursionlimit(min(sys.getrecursionlimit(), MAX_RECURSION))
    services = build_services(settings, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_anchorer:
            services.anchor.start()
        services.scheduler.add_job(
            services.usage.flush, "interval", seconds=settings.usage_flush_seconds, id="usage", coalesce=True
        )
        services.scheduler.add_job(
            _quietly(lambda: _watch_receipt_signer(services)),
            "interval",
            seconds=settings.signer_check_seconds,
            id="receipt-signer",
            coalesce=True,
            max_instances=1,
        )
        services.scheduler.add_job(
            _quietly(services.webhooks.deliver_due),
            "interval",
            seconds=settings.webhook_poll_seconds,
            id="webhooks",
            coalesce=True,
            max_instances=1,
        )
        services.scheduler.add_job(
            _quietly(lambda: services.comparisons.expire_evidence(retention_days=settings.evidence_retention_days)),
            "interval",
            hours=1,
            id="evidence-retention",
            coalesce=True,
            max_instances=1,
        )
        services.scheduler.start()
        log.info(
            "node ready",
            extra={
                "chain_id": settings.chain_id,
                "contract": settings.contract_address,
                "signer": to_hex(services.signer.address),
            },
        )
        try:
            yield
        finally:
            services.scheduler.shutdown(wait=True)
            services.anchor.stop()
            services.recorder.close()
            services.webhooks.close()
            services.usage.flush()
            services.store.close()

    app = NodeAPI(
        title="PacSpace node", version="0.1.0", summary="A neutral record for usage-based billing", lifespan=lifespan
    )
    install_docs(app)
    app.state.services = services  # the one copy: read through node.api.deps
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(bulk_router)
    app.include_router(ledger_router)
    app.include_router(admin_router)
    app.include_router(webhook_router)
    app.include_router(compare_router)
    app.include_router(events_router)
    app.include_router(event_mappings_router)
    app.include_router(openmeter_router)
    # The static files before the dashboard's routes: its catch-all page for unknown URLs would shadow them.
    app.mount(DASHBOARD_PREFIX + "/static", StaticFiles(directory=DASHBOARD_STATIC), name="dashboard-static")
    app.include_router(dashboard_router)
    app.mount(PORTAL_PREFIX + "/static", StaticFiles(directory=DASHBOARD_STATIC), name="portal-static")
    app.include_router(portal_router)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        large_bodies={
            "/v1/balance/compare": (settings.max_compare_bytes, frozenset({"text/csv"})),
            "/v1/balance/deltas": (settings.max_bulk_bytes, frozenset()),
            "/v1/events": (settings.max_bulk_bytes, CLOUDEVENT_TYPES),
            "/api/v1/events": (settings.max_bulk_bytes, CLOUDEVENT_TYPES),
        },
        form_prefixes=(DASHBOARD_PREFIX, PORTAL_PREFIX),
    )
    app.add_middleware(
        Observability,
        metrics=services.metrics,
        usage=services.usage,
        page_prefixes=(DASHBOARD_PREFIX, PORTAL_PREFIX),
    )
    _add_operational_routes(app, services)
    return app


def _quietly(job: Callable[[], object]) -> Callable[[], None]:
    """A scheduler job that logs its failure instead of letting APScheduler print a traceback."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("background job failed", extra={"job": getattr(job, "__name__", "job")})

    return run


def _watch_receipt_signer(services: Services) -> None:
    """Stop signing once the contract has closed this node's receipt signer window (a key revoked while a
    process still ran with it); recording resumes if the window is open again, which a v2 contract never does."""
    address = services.signer.address
    try:
        window = services.anchor.chain.signer_window(address)
    except ChainUnavailable:
        return  # the anchoring job reports the chain; a revocation is noticed at the next answer
    if window is None or not window.active:
        if services.recorder.refusal is None:
            log.error("receipt signer revoked on the contract: recording refused", extra={"signer": to_hex(address)})
        services.recorder.refusal = ReceiptSignerRevoked(
            f"this node's receipt signing key {to_hex(address)} is no longer authorised by the anchor contract; "
            "restart the node with the new key (docs/KEYS.md)"
        )
    else:
        services.recorder.refusal = None


def _add_operational_routes(app: FastAPI, services: Services) -> None:
    @app.get("/healthz", summary="Liveness and anchoring state")
    def healthz(_request: Request) -> dict[str, Any]:
        with services.store.session() as session:
            waiting = count_unbatched(session=session)
        return {
            "status": "ok" if services.anchor.last_error is None and services.recorder.refusal is None else "degraded",
            "receiptSigner": "revoked" if services.recorder.refusal is not None else "active",
            "chainId": services.settings.chain_id,
            "contract": services.settings.contract_address,
            "signer": to_hex(services.signer.address),
            "anchorer": services.anchor.chain.account.address.lower(),
            "protocolVersion": services.domain.protocol.number,
            "headBlock": services.anchor.head_block,
            "unbatchedDeltas": waiting,
            "lastAnchorError": services.anchor.last_error,
            "anchoringLeader": services.anchor.is_leader,
            "database": services.store.backend,
            **_chain_health(services),
        }

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _chain_health(services: Services) -> dict[str, Any]:
    """Finality, RPC providers (redacted URLs), fees and warnings, for /healthz."""
    anchor = services.anchor
    report = anchor.last_report
    policy = anchor.policy
    pool = anchor.chain.pool
    return {
        "finality": {
            "rule": policy.finality.value,
            "confirmations": policy.confirmations,
            "quorum": policy.quorum,
            "finalizedBlock": None if report is None else report.finalized_block,
        },
        "rpcProviders": [] if pool is None else [view.to_json() for view in pool.views()],
        "fees": {
            "maxFeeWei": _text(policy.fees.max_fee),
            "maxPriorityFeeWei": _text(policy.fees.max_priority_fee),
            "dailyBudgetWei": _text(policy.fees.daily_budget),
            "baseFeeWei": _text(None if report is None else report.base_fee),
            "held": None if report is None else report.held,
        },
        "warnings": anchor.warnings(),
    }


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
