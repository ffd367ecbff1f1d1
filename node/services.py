"""``Services``: the node's long-lived objects, built once by ``node.app.build_services``.

The app keeps one instance as its ``state.services``; routes receive it (or one of its members) as a typed
dependency from ``node.api.deps``, and middleware reads it through ``node.api.deps.services_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from node.anchoring.scheduler import AnchorService
from node.checkpoints.service import Checkpoints
from node.compare.service import Comparisons
from node.core.ratelimit import BucketPolicy, RateLimiter
from node.core.signing import ReceiptSigner
from node.core.typed_data import Domain
from node.ingest.rules import IngestRulesService
from node.ledger.receipts import ReceiptReader
from node.ledger.recording import Recorder
from node.observability.metrics import NodeMetrics
from node.settings import Settings
from node.store.db import Store
from node.usage.service import UsageMeter
from node.webhooks.delivery import WebhookWorker


@dataclass
class Services:
    settings: Settings
    store: Store
    signer: ReceiptSigner
    domain: Domain
    metrics: NodeMetrics
    usage: UsageMeter
    scheduler: BackgroundScheduler
    anchor: AnchorService
    recorder: Recorder
    receipts: ReceiptReader
    checkpoints: Checkpoints
    webhooks: WebhookWorker
    comparisons: Comparisons
    ingest: IngestRulesService
    rate_limiter: RateLimiter
    key_policy: BucketPolicy
    auth_failure_policy: BucketPolicy

    def head_block(self) -> int | None:
        """The chain head the anchoring service last saw (None before it has looked)."""
        return self.anchor.head_block

    def wake_webhooks(self) -> None:
        """Run the webhook delivery job now rather than at its next poll."""
        job = self.scheduler.get_job("webhooks")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))
