"""Recording deltas: validate (core), chain and sign (core), persist durably (store), with group commit.

A delta is answered only after the transaction holding its row has committed (SQLite WAL with
``synchronous=FULL``), so an acknowledged delta survives a power cut. Committing one delta per
transaction makes the fsync the limit, so concurrent callers share transactions: each caller
queues its deltas and waits; one writer thread takes everything queued so far (up to
``MAX_GROUP``), records it in one transaction and wakes each caller once it has committed. A
lone caller's delta is taken at once: nobody waits for a group to fill.

Inside a group the rules are exactly those of one delta at a time, applied in queue order:
the same referenceId twice is one delta (the later ones are replays of the first, or conflicts
when their payload differs); each customer's chain is read once from the database and extended
in memory, so indexes stay gap-free. The writer transaction is exclusive on SQLite and takes
each chain's lock (``Store.lock_chains``) elsewhere; the unique constraints on (tenant,
referenceId) and (tenant, customer, index) still refuse anything a concurrent writer in another
process slipped in, and then the group is retried one delta per transaction.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.core.deltas import ChainHead, DeltaRequest, build_delta
from node.core.errors import ChainContention, FieldError, InvalidInput, PacSpaceError, ReferenceConflict
from node.core.hashing import ZERO32
from node.core.signing import ReceiptSigner
from node.core.typed_data import Domain, build_typed_data, compute_fingerprint
from node.ledger.group_signing import GroupSigner
from node.store.db import Store
from node.store.deltas import chain_heads, deltas_by_reference, get_delta_by_receipt, insert_deltas
from node.store.models import StoredDelta

log = logging.getLogger("pacspace.recording")

# Deltas per writer transaction: large enough to share the fsync widely, small enough that a
# group's transaction stays short (about 10 ms for 1,000 here).
MAX_GROUP = 1000
_ATTEMPTS = 3
_RANDOM_BYTES = 32 + 8  # a salt and the random part of a receipt id per delta


def new_receipt_id(recorded_at: int, random8: bytes) -> str:
    """``rcpt_`` and 24 hex digits: the recording second (4 bytes, big-endian) then 8 random bytes.

    Time first, so a new receipt id lands at the end of the receipt-id index instead of on a random
    page of it: at 1,000,000 rows that index alone was a third of the pages a group of 1,000 deltas
    dirtied (docs/PERFORMANCE.md, issue 21). The id stays opaque and unguessable enough not to collide
    (64 random bits within a second); a collision is refused by the unique index and the delta is
    recorded again with new randomness. The time it shows is the receipt's own ``recordedAt``.
    """
    return "rcpt_" + (recorded_at % 2**32).to_bytes(4, "big").hex() + random8.hex()


@dataclass(eq=False)
class _Job:
    """One delta waiting for a writer; the leader fills in the outcome before it sets ``done``."""

    tenant: str
    request: DeltaRequest
    api_key_id: str | None
    request_hash: bytes = b""
    row: StoredDelta | None = None
    created: bool = False
    error: Exception | None = None
    done: bool = False


@dataclass
class RecordResult:
    """The outcome of one delta of a ``record_many`` call: a row (created or replayed) or an error."""

    row: StoredDelta | None
    created: bool
    error: Exception | None = None


class _Ticket:
    """A caller's jobs and how to wake it once all of them are done (an event, or an asyncio future)."""

    __slots__ = ("event", "future", "jobs", "loop")

    def __init__(self, jobs: list[_Job], loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.jobs = jobs
        self.loop = loop
        self.future: asyncio.Future[None] | None = None if loop is None else loop.create_future()
        self.event = threading.Event()

    def done(self) -> bool:
        return all(job.done for job in self.jobs)

    def wake(self) -> None:
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        else:
            self.event.set()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Recorder:
    """Records deltas through one writer thread that commits queued deltas in groups.

    ``record``/``record_many`` block the calling thread; ``record_async``/``record_many_async``
    await on the event loop without holding a worker thread per waiting request.
    """

    def __init__(
        self,
        *,
        store: Store,
        domain: Domain,
        signer: ReceiptSigner,
        clock: Callable[[], float] = time.time,
        on_recorded: Callable[[], None] | None = None,
        max_group: int = MAX_GROUP,
        sign_threads: int = 2,
    ) -> None:
        self.store = store
        self.domain = domain
        self.signer = signer
        self.clock = clock
        self.on_recorded = on_recorded
        self.max_group = max_group
        self._queue: deque[tuple[_Job, _Ticket]] = deque()
        self._wakeup = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closing = False
        self._signer_pool = GroupSigner(signer, self._typed_data_of, threads=sign_threads)
        # Set when the contract revokes this node's signer: nothing more is signed with it.
        self.refusal: PacSpaceError | None = None

    def record(self, *, tenant: str, request: DeltaRequest, api_key_id: str | None = None) -> tuple[StoredDelta, bool]:
        """Returns (receipt row, created). A retry with the same payload returns the first row."""
        job = _Job(tenant, request, api_key_id)
        ticket = self._submit([job], None)
        ticket.event.wait()
        return self._outcome(job)

    async def record_async(
        self, *, tenant: str, request: DeltaRequest, api_key_id: str | None = None
    ) -> tuple[StoredDelta, bool]:
        job = _Job(tenant, request, api_key_id)
        ticket = self._submit([job], asyncio.get_running_loop())
        assert ticket.future is not None
        await ticket.future
        return self._outcome(job)

    def record_many(
        self, *, tenant: str, requests: Sequence[DeltaRequest], api_key_id: str | None = None
    ) -> list[RecordResult]:
        """Each request recorded (or replayed, or refused) independently, in order; one result each."""
        jobs = [_Job(tenant, request, api_key_id) for request in requests]
        if jobs:
            self._submit(jobs, None).event.wait()
        return [RecordResult(job.row, job.created, job.error) for job in jobs]

    async def record_many_async(
        self, *, tenant: str, requests: Sequence[DeltaRequest], api_key_id: str | None = None
    ) -> list[RecordResult]:
        jobs = [_Job(tenant, request, api_key_id) for request in requests]
        if jobs:
            ticket = self._submit(jobs, asyncio.get_running_loop())
            assert ticket.future is not None
            await ticket.future
        return [RecordResult(job.row, job.created, job.error) for job in jobs]

    def close(self) -> None:
        """Stop the writer thread once the queue is empty (queued deltas are still recorded)."""
        with self._wakeup:
            writer = self._writer
            if writer is None:
                return
            self._closing = True
            self._wakeup.notify_all()
        writer.join()
        self._signer_pool.close()

    def _typed_data_of(self, row: StoredDelta) -> dict[str, Any]:
        return build_typed_data(self.domain, row.to_delta())

    @staticmethod
    def _outcome(job: _Job) -> tuple[StoredDelta, bool]:
        if job.error is not None:
            raise job.error
        assert job.row is not None
        return job.row, job.created

    def _submit(self, jobs: list[_Job], loop: asyncio.AbstractEventLoop | None) -> _Ticket:
        refusal = self.refusal
        if refusal is not None:
            raise refusal
        for job in jobs:
            job.request_hash = job.request.request_hash  # in the caller: keeps the writer thread short
        ticket = _Ticket(jobs, loop)
        with self._wakeup:
            self._queue.extend((job, ticket) for job in jobs)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="pacspace-recorder", daemon=True)
                self._writer.start()
            self._wakeup.notify()
        return ticket

    def _write_loop(self) -> None:
        while True:
            with self._wakeup:
                while not self._queue and not self._closing:
                    self._wakeup.wait()
                if not self._queue:
                    self._writer = None
                    self._closing = False  # a later call starts a new writer
                    return
                taken = [self._queue.popleft() for _ in range(min(self.max_group, len(self._queue)))]
            try:
                self._record_group([job for job, _ticket in taken])
            except Exception:  # every job is marked done by now; keep the writer alive
                log.exception("recording a group of deltas failed")
            finally:
                for ticket in dict.fromkeys(ticket for _job, ticket in taken):
                    if ticket.done():
                        ticket.wake()

    def _record_group(self, jobs: list[_Job]) -> None:
        """Record ``jobs`` and mark every one done, whatever happens (callers wait on ``done``)."""
        try:
            try:
                self._commit(jobs)
            except IntegrityError:
                # A writer in another process won a race for a reference or a chain index: one
                # transaction per delta from here, each re-reading what the other wrote.
                for job in jobs:
                    self._commit_alone(job)
        except Exception as exc:  # the database refused the transaction: nothing of it was stored
            for job in jobs:
                if not job.done:
                    job.row, job.created, job.error = None, False, exc
        finally:
            for job in jobs:
                job.done = True
        created = sum(1 for job in jobs if job.created)
        if self.on_recorded is not None:
            for _ in range(created):
                self.on_recorded()

    def _commit_alone(self, job: _Job) -> None:
        for _attempt in range(_ATTEMPTS):
            try:
                self._commit([job])
                return
            except IntegrityError:
                continue
        job.row, job.created = None, False
        job.error = ChainContention("could not extend the customer's chain after 3 attempts; retry")
        job.done = True

    def _commit(self, jobs: list[_Job]) -> None:
        """One writer transaction for ``jobs``; their outcomes are published only after it commits."""
        outcomes: list[tuple[StoredDelta | None, bool, PacSpaceError | None]] = []
        with self.store.writer() as session:
            chains = sorted({(job.tenant, job.request.customer_id) for job in jobs})
            self.store.lock_chains(session, chains)
            known = self._existing_references(session, jobs)
            heads = chain_heads(session=session, chains=chains)
            recorded_at = int(self.clock())
            # One read of the system's randomness for the whole group: salts and receipt ids.
            randomness = os.urandom(_RANDOM_BYTES * len(jobs))
            new_rows: list[StoredDelta] = []
            for i, job in enumerate(jobs):
                key = (job.tenant, job.request.reference_id)
                prior = known.get(key)
                if prior is not None:
                    outcomes.append(self._replay(prior, job.request_hash))
                    continue
                entropy = randomness[i * _RANDOM_BYTES : (i + 1) * _RANDOM_BYTES]
                try:
                    row = self._build_row(session, job, heads, recorded_at, entropy)
                except PacSpaceError as exc:
                    outcomes.append((None, False, exc))
                    continue
                known[key] = row
                new_rows.append(row)
                outcomes.append((row, True, None))
            if new_rows:
                self._signer_pool.sign(new_rows)
                insert_deltas(session=session, rows=new_rows)
            session.commit()
        for job, (outcome_row, created, error) in zip(jobs, outcomes, strict=True):
            job.row, job.created, job.error = outcome_row, created, error
            job.done = True

    @staticmethod
    def _existing_references(session: Session, jobs: list[_Job]) -> dict[tuple[str, str], StoredDelta]:
        """Rows already recorded under the jobs' referenceIds, by (tenant, referenceId)."""
        by_tenant: dict[str, set[str]] = {}
        for job in jobs:
            by_tenant.setdefault(job.tenant, set()).add(job.request.reference_id)
        return {
            (tenant, reference_id): row
            for tenant, references in by_tenant.items()
            for reference_id, row in deltas_by_reference(session=session, tenant=tenant, references=references).items()
        }

    def _build_row(
        self,
        session: Session,
        job: _Job,
        heads: dict[tuple[str, str], ChainHead],
        recorded_at: int,
        entropy: bytes,
    ) -> StoredDelta:
        request = job.request
        chain = (job.tenant, request.customer_id)
        head = heads.get(chain)
        corrects = self._corrected_fingerprint(session, job.tenant, request)
        delta = build_delta(
            tenant=job.tenant, request=request, head=head, recorded_at=recorded_at, salt=entropy[:32], corrects=corrects
        )
        fingerprint = compute_fingerprint(self.domain, delta)
        running_total = (0 if head is None else head.running_total) + delta.delta
        heads[chain] = ChainHead(delta.customer_index, fingerprint, running_total)
        return StoredDelta(
            id=None,
            receipt_id=new_receipt_id(recorded_at, entropy[32:]),
            tenant=delta.tenant,
            customer_id=delta.customer_id,
            reference_id=delta.reference_id,
            amount=str(delta.delta),
            reason=delta.reason,
            metadata_json=request.metadata_json,
            metadata_hash=delta.metadata_hash,
            customer_index=delta.customer_index,
            prev_fingerprint=delta.prev_fingerprint,
            recorded_at=delta.recorded_at,
            salt=delta.salt,
            fingerprint=fingerprint,
            signature=b"",  # signed with the rest of the group, before the insert
            request_hash=job.request_hash,
            log_index=None,
            batch_id=None,
            api_key_id=job.api_key_id,
            corrects=delta.corrects,
            corrects_receipt_id=request.corrects_receipt_id,
            running_total=str(running_total),
            signer=self.signer.address,
        )

    @staticmethod
    def _corrected_fingerprint(session: Session, tenant: str, request: DeltaRequest) -> bytes:
        """The fingerprint of the receipt a correction names; it must be this customer's own."""
        if request.corrects_receipt_id is None:
            return ZERO32
        original = get_delta_by_receipt(session=session, tenant=tenant, receipt_id=request.corrects_receipt_id)
        if original is None or original.customer_id != request.customer_id:
            raise InvalidInput(
                "a correction must name an existing receipt of the same customer",
                errors=[FieldError("correctsReceiptId", f"no receipt {request.corrects_receipt_id} for this customer")],
            )
        return original.fingerprint

    @staticmethod
    def _replay(existing: StoredDelta, request_hash: bytes) -> tuple[StoredDelta | None, bool, PacSpaceError | None]:
        if not secrets.compare_digest(existing.request_hash, request_hash):
            return (
                None,
                False,
                ReferenceConflict(
                    f"referenceId {existing.reference_id!r} was already recorded with a different payload "
                    f"as {existing.receipt_id}",
                    receipt_id=existing.receipt_id,
                ),
            )
        return existing, False, None
