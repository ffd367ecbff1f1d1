"""Pieces of ``bench/bench.py``: a load generator, a node harness and one module per section."""
