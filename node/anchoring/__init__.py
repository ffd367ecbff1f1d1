"""Anchoring: the cycle that commits batches of fingerprints on chain, and the job that runs it."""
