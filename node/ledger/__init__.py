"""The ledger: recording deltas, receipts and proofs, balances, audit, completeness and verification."""
