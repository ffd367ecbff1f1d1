"""A node's ledger without its HTTP face, for tests that drive the anchoring job directly: a migrated
store, a recorder and a receipt reader over one deployment, and a way to record deltas."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from node.anchoring.cycle import AnchorPolicy, CycleReport, run_anchor_cycle
from node.chain.client import AnchorClient
from node.core.deltas import validate_delta_request
from node.core.hashing import from_hex
from node.core.signing import ReceiptSigner, Signer
from node.core.typed_data import Domain
from node.dev.chain import DEV_ANCHORER_KEY
from node.ledger.receipts import ReceiptReader
from node.ledger.recording import Recorder
from node.store.db import Store
from node.store.keys import ensure_tenant
from node.store.migrate import upgrade
from node.store.models import StoredDelta, delta_status


class Ledger:
    def __init__(self, contract_address: str, db_url: str, signer: ReceiptSigner | None = None) -> None:
        self.store = Store(db_url)
        upgrade(self.store)
        with self.store.writer() as session:
            ensure_tenant(session=session, tenant="default")
            session.commit()
        self.domain = Domain(31337, from_hex(contract_address, length=20))
        self.signer = signer or Signer(from_hex(DEV_ANCHORER_KEY, length=32))
        self.recorder = Recorder(store=self.store, domain=self.domain, signer=self.signer)
        self.reader = ReceiptReader(store=self.store, domain=self.domain)

    def record(self, n: int, customer: str = "cust_1") -> list[StoredDelta]:
        rows = []
        for i in range(n):
            request = validate_delta_request(
                customer_id=customer,
                delta=(i + 1) * 7,
                reason="usage",
                reference_id=secrets.token_hex(8),
                metadata=None,
            )
            rows.append(self.recorder.record(tenant="default", request=request)[0])
        return rows

    def cycle(
        self, chain: AnchorClient, policy: AnchorPolicy | None = None, clock: Callable[[], float] = time.time
    ) -> CycleReport:
        return run_anchor_cycle(self.store, chain, clock, policy or AnchorPolicy())

    def status(self, receipt_id: str) -> str:
        _row, batch = self.reader.get(tenant="default", receipt_id=receipt_id)
        return str(delta_status(None if batch is None else batch.status))

    def close(self) -> None:
        self.recorder.close()
        self.store.close()
