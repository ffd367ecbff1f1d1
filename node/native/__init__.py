"""Native code for the hot paths: the Merkle tree in C (merkle.c), its build (build.py) and loader (loader.py).

Nothing is imported here, so ``python -m node.native.build`` runs with a bare interpreter (the Docker
build stage) before any dependency is installed. hatch_build.py (the wheel's build hook) runs build.py
too, loaded by its path.
"""
