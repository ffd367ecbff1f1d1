"""``create_app(settings)``: builds the store, chain client, signer and services, then the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eth_account import Account
from fastapi import FastAPI, Request

from node.anchoring import AnchorPolicy
from node.api.limits import RequestGuard
from node.api.problems import install_problem_handlers
from node.api.routes import router
from node.chain.client import AnchorClient, connect
from node.core.hashing import from_hex, to_hex
from node.core.signing import Signer
from node.core.typed_data import Domain
from node.receipts import ReceiptReader
from node.recording import Recorder
from node.scheduler import AnchorService
from node.settings import Settings
from node.store.db import Store
from node.store.queries import count_unbatched

log = logging.getLogger("pacspace.app")


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """Wire the node. Refuses to build if the chain or contract is not the configured one."""
    store = store or Store(settings.database_url)
    store.create_schema()
    private_key = settings.signer_private_key()
    signer = Signer(private_key)
    w3 = connect(settings.rpc_url)
    chain = AnchorClient(w3, settings.contract_address, Account.from_key(private_key))
    chain.check_identity(expected_chain_id=settings.chain_id)
    del private_key
    domain = Domain(settings.chain_id, from_hex(settings.contract_address, length=20))
    anchor = AnchorService(
        store=store,
        chain=chain,
        policy=AnchorPolicy(
            max_batch_size=settings.max_batch_size,
            confirmations=settings.confirmations,
            receipt_timeout=settings.receipt_timeout_seconds,
        ),
        interval_seconds=settings.anchor_interval_seconds,
        trigger_pending=settings.anchor_trigger_pending,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_anchorer:
            anchor.start()
        log.info(
            "node ready",
            extra={
                "chain_id": settings.chain_id,
                "contract": settings.contract_address,
                "signer": to_hex(signer.address),
            },
        )
        try:
            yield
        finally:
            anchor.shutdown()
            store.close()

    app = FastAPI(
        title="PacSpace node",
        version="0.1.0",
        summary="A neutral record for usage-based billing",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.signer = signer
    app.state.domain = domain
    app.state.anchor = anchor
    app.state.recorder = Recorder(store=store, domain=domain, signer=signer, on_recorded=anchor.notify_recorded)
    app.state.receipts = ReceiptReader(store=store, domain=domain, signer=signer.address)
    app.state.head_block = lambda: anchor.head_block
    install_problem_handlers(app)
    app.include_router(router)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)

    @app.get("/healthz", summary="Liveness and anchoring state")
    def healthz(request: Request) -> dict[str, Any]:
        with store.session() as session:
            waiting = count_unbatched(session=session)
        return {
            "status": "ok" if anchor.last_error is None else "degraded",
            "chainId": settings.chain_id,
            "contract": settings.contract_address,
            "signer": to_hex(signer.address),
            "headBlock": anchor.head_block,
            "unbatchedDeltas": waiting,
            "lastAnchorError": anchor.last_error,
        }

    return app
