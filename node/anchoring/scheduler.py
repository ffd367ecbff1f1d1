"""Runs ``run_anchor_cycle`` on an APScheduler 3.x interval, or sooner when enough deltas wait.

Only the leader anchors (node.store.leader): every process runs this job, and each run first
checks, or tries to take, the leader lock. A standby therefore takes over within one
interval of the leader's death, and finishes whatever batch the leader left half-done from
the batch rows it wrote ahead (the anchoring job's recovery path).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from node.anchoring.cycle import AnchorPolicy, CycleReport, run_anchor_cycle
from node.anchoring.policy import HELD_BUDGET, HELD_FEES
from node.chain.client import AnchorClient
from node.chain.errors import ChainReverted, ChainUnavailable
from node.chain.providers import DOWN, LAGGING
from node.chain.remote_signers import RemoteSignerError
from node.core.finality import FinalityMode
from node.observability.metrics import NodeMetrics
from node.store.db import Store
from node.store.leader import Leadership, SoleLeadership

log = logging.getLogger("pacspace.scheduler")
JOB_ID = "anchor"
MAX_BACKOFF_SECONDS = 60.0


class AnchorService:
    def __init__(
        self,
        *,
        store: Store,
        chain: AnchorClient,
        policy: AnchorPolicy,
        interval_seconds: float,
        trigger_pending: int,
        scheduler: BackgroundScheduler,
        metrics: NodeMetrics | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.store = store
        self.chain = chain
        self.policy = policy
        self.interval_seconds = interval_seconds
        self.trigger_pending = trigger_pending
        self.scheduler = scheduler
        self.metrics = metrics
        self.last_report: CycleReport | None = None
        self.last_error: str | None = None
        self.last_cycle_at: float | None = None
        self._recorded_since_cycle = 0
        self._lock = threading.Lock()
        self._cycle_lock = threading.Lock()
        self._failures = 0
        self.backoff_until = 0.0
        self.leadership = leadership or SoleLeadership()
        self.is_leader = False
        self.leader_since: float | None = None

    @property
    def head_block(self) -> int | None:
        return None if self.last_report is None else self.last_report.head_block

    def start(self) -> None:
        """Add the anchoring job to the scheduler (which the caller starts and stops)."""
        self.scheduler.add_job(
            self.run_once,
            "interval",
            seconds=self.interval_seconds,
            id=JOB_ID,
            # A second instance only finds _cycle_lock taken and returns: no "skipped" warnings
            # while a long cycle drains a backlog.
            max_instances=2,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def notify_recorded(self) -> None:
        """Called after each new delta; pulls the next cycle forward once enough wait."""
        with self._lock:
            self._recorded_since_cycle += 1
            due = self._recorded_since_cycle >= self.trigger_pending
            if due:
                self._recorded_since_cycle = 0
        if due and self.scheduler.running:
            job = self.scheduler.get_job(JOB_ID)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    def run_once(self, *, force: bool = False) -> CycleReport | None:
        """One cycle, unless one is running or the chain is being backed off from (``force`` ignores that)."""
        if not force and time.time() < self.backoff_until:
            return None
        if not self._cycle_lock.acquire(blocking=False):
            return None
        try:
            if not self._lead():
                return None
            return self._cycle()
        finally:
            self._cycle_lock.release()

    def _lead(self) -> bool:
        """Check, or try to take, the leader lock; log and count every change."""
        try:
            leading = self.leadership.hold()
        except Exception:
            log.exception("could not check the leader lock; not anchoring this time")
            leading = False
        if leading != self.is_leader:
            self.is_leader = leading
            self.leader_since = time.time() if leading else None
            if leading:
                log.info("this process is now the anchoring leader")
            else:
                log.warning("this process is no longer the anchoring leader")
            if self.metrics is not None:
                self.metrics.anchor_leader.set(1 if leading else 0)
        return leading

    def stop(self) -> None:
        """Give up leadership (the scheduler must already be stopped)."""
        with self._cycle_lock:
            self.leadership.release()
            self.is_leader = False

    def _cycle(self) -> CycleReport | None:
        with self._lock:
            self._recorded_since_cycle = 0
        try:
            report = run_anchor_cycle(self.store, self.chain, time.time, self.policy)
        except (ChainUnavailable, RemoteSignerError) as exc:
            self.last_error = exc.detail
            self._count_failure("chain_unavailable" if isinstance(exc, ChainUnavailable) else "signer_unavailable")
            self._failures += 1
            delay = min(MAX_BACKOFF_SECONDS, self.interval_seconds * 2 ** min(self._failures, 16))
            self.backoff_until = time.time() + delay
            if self.metrics is not None:
                self.metrics.anchor_backoff.set(delay)
            log.warning(
                "chain or anchoring signer unavailable; deltas stay pending, backing off",
                extra={"error": exc.detail, "retry_in_seconds": round(delay, 2), "failures": self._failures},
            )
            return None
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._count_failure("error")
            # A refusal by the contract is logged as its custom error, e.g. PacSpaceAnchorNonContiguousStart(...).
            log.exception("anchoring cycle failed", extra=_revert_extra(exc))
            return None
        if self._failures:
            log.info("chain reachable again; anchoring resumed", extra={"after_failures": self._failures})
        self._failures = 0
        self.backoff_until = 0.0
        if self.metrics is not None:
            self._record_metrics(report)
        self.last_report = report
        self.last_error = None
        self.last_cycle_at = time.time()
        return report

    def _record_metrics(self, report: CycleReport) -> None:
        assert self.metrics is not None
        m = self.metrics
        m.anchor_backoff.set(0)
        m.batches_anchored.inc(report.batches_anchored)
        m.deltas_verified.inc(report.deltas_verified)
        m.gas_used.inc(report.gas_used)
        m.cost_wei.inc(report.cost_wei)
        m.batches_reorged.inc(report.reorged)
        m.replacements_capped.inc(report.replacements_capped)
        m.fee_cap.set(self.policy.fees.max_fee or 0)
        if report.base_fee is not None:
            m.base_fee.set(report.base_fee)
        for reason in (HELD_FEES, HELD_BUDGET):
            m.anchor_held.labels(reason).set(1 if report.held == reason else 0)
        for reason in ("not_final", "quorum", "providers_disagree"):
            m.verification_waiting.labels(reason).set(1 if report.waiting == reason else 0)

    def warnings(self) -> list[dict[str, str]]:
        """What an operator should look at although the node works: held batches, verification waiting
        on providers, providers down or lagging (by name and redacted URL)."""
        found: list[dict[str, str]] = []
        report = self.last_report
        if report is not None and report.held == HELD_FEES:
            found.append(
                {"code": HELD_FEES, "detail": "fees are above PACSPACE_MAX_FEE_GWEI: batches wait, recording goes on"}
            )
        if report is not None and report.held == HELD_BUDGET:
            found.append(
                {"code": HELD_BUDGET, "detail": "the day's PACSPACE_DAILY_GAS_BUDGET_ETH is spent: batches wait"}
            )
        if report is not None and report.replacements_capped:
            found.append(
                {
                    "code": "replacement_capped",
                    "detail": "a stuck anchor transaction waits: replacing it would pass the fee cap",
                }
            )
        if report is not None and self.policy.finality == FinalityMode.FINALIZED and report.finalized_block is None:
            found.append(
                {
                    "code": "finalized_tag_not_served",
                    "detail": "PACSPACE_FINALITY is finalized but the RPC serves no finalized block: nothing verifies",
                }
            )
        if report is not None and report.waiting in ("quorum", "providers_disagree"):
            detail = (
                f"providers disagree on a batch's block: {', '.join(report.disagreeing)}"
                if report.waiting == "providers_disagree"
                else f"fewer than {self.policy.quorum} providers confirm a batch's block: verification waits"
            )
            found.append({"code": f"verification_{report.waiting}", "detail": detail})
        if self.chain.pool is not None:
            for view in self.chain.pool.views():
                if view.state in (DOWN, LAGGING):
                    what = (
                        f"{view.lag_blocks} blocks behind"
                        if view.state == LAGGING
                        else f"unreachable ({view.last_error})"
                    )
                    found.append({"code": f"rpc_provider_{view.state}", "detail": f"{view.name} {view.url} is {what}"})
        return found

    def _count_failure(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.cycle_failures.labels(reason).inc()


def _revert_extra(exc: Exception) -> dict[str, str] | None:
    return {"revert": exc.reason} if isinstance(exc, ChainReverted) else None
