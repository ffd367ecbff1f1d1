"""The native Merkle backend: node/native/merkle.c, built by scripts/bootstrap, loaded with ctypes.

``merkle_backend()`` is what the node hands to node.core.merkle (``MerkleTree.of(..., backend=...)``):
the native backend when its library is built from the current sources, else None, which means the
pure-Python code (the same bytes, about 8x slower for a 1,000,000-leaf tree). It logs its choice once
at INFO. ``PACSPACE_NATIVE=0`` forces pure Python, ``PACSPACE_NATIVE=1`` makes a missing library an
error; ``PACSPACE_NATIVE_THREADS`` sets the threads per build (default: the CPUs, at most 8).

ctypes releases the GIL during each call, so a build does not stall the event loop's thread.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from array import array
from pathlib import Path

from node.core.merkle import MerkleBackend
from node.native.build import LIBRARY, SOURCES, source_hash

ABI_VERSION = 1  # PACSPACE_NATIVE_ABI in merkle.c
_SIMD = {0: "scalar", 1: "4-way portable", 2: "4-way AVX2"}

log = logging.getLogger("pacspace.merkle")


class NativeUnavailable(RuntimeError):
    """The library is not built, is stale, or cannot be loaded; the message says which and what to run."""


def _writable(buffer: bytearray | array[int], size: int) -> ctypes.Array[ctypes.c_char]:
    return (ctypes.c_char * size).from_buffer(buffer)


class NativeMerkle:
    """``MerkleBackend`` over the C library. Thread-safe: every call has its own buffers."""

    def __init__(self, library: Path | None = None, *, threads: int | None = None) -> None:
        library = LIBRARY if library is None else library
        if not library.exists():
            raise NativeUnavailable(f"{library} is not built: run scripts/bootstrap (or python -m node.native.build)")
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise NativeUnavailable(f"{library} cannot be loaded: {exc}") from None
        lib.pacspace_abi_version.restype = ctypes.c_int
        lib.pacspace_source_hash.restype = ctypes.c_char_p
        if lib.pacspace_abi_version() != ABI_VERSION:
            raise NativeUnavailable(f"{library} has ABI {lib.pacspace_abi_version()}, expected {ABI_VERSION}")
        built_from = (lib.pacspace_source_hash() or b"").decode()
        if all(source.exists() for source in SOURCES) and built_from != source_hash():
            raise NativeUnavailable(f"{library} was built from other sources: run scripts/bootstrap to rebuild it")
        if array("I").itemsize != 4:
            raise NativeUnavailable("array('I') is not 32-bit on this platform")
        size_t, ptr = ctypes.c_size_t, ctypes.c_void_p
        lib.pacspace_keccak256.argtypes = [ctypes.c_char_p, size_t, ptr]
        lib.pacspace_keccak256.restype = None
        lib.pacspace_leaf_hashes.argtypes = [ctypes.c_char_p, ctypes.c_char_p, size_t, ptr, ctypes.c_int]
        lib.pacspace_tree_from_leaves.argtypes = [ctypes.c_char_p, size_t, ptr, ptr, ctypes.c_int]
        lib.pacspace_tree_from_values.argtypes = [ctypes.c_char_p, ctypes.c_char_p, size_t, ptr, ptr, ctypes.c_int]
        for function in (lib.pacspace_leaf_hashes, lib.pacspace_tree_from_leaves, lib.pacspace_tree_from_values):
            function.restype = ctypes.c_int
        lib.pacspace_simd.restype = ctypes.c_int
        lib.pacspace_set_simd.argtypes = [ctypes.c_int]
        lib.pacspace_set_simd.restype = ctypes.c_int
        self._lib = lib
        self.library = library
        self.threads = max(1, threads if threads is not None else _default_threads())

    @property
    def simd(self) -> str:
        return _SIMD.get(self._lib.pacspace_simd(), "?")

    @property
    def name(self) -> str:
        return f"native ({self.simd}, {self.threads} thread{'s' if self.threads > 1 else ''})"

    def set_simd(self, level: int) -> int:
        """0 scalar, 1 four hashes at once, 2 the same with AVX2, -1 the best; returns the level in use.

        Process-wide, for the tests that compare the levels; the library starts at the best.
        """
        return int(self._lib.pacspace_set_simd(level))

    def keccak256(self, data: bytes) -> bytes:
        out = bytearray(32)
        self._lib.pacspace_keccak256(data, len(data), ctypes.addressof(_writable(out, 32)))
        return bytes(out)

    def leaf_hashes(self, start_index: int, fingerprints: bytes, count: int) -> bytes:
        """Requires ``count`` 32-byte fingerprints packed and 0 <= start_index, start_index + count <= 2**256."""
        _require(len(fingerprints) == 32 * count, "fingerprints must be count x 32 bytes")
        out = bytearray(32 * count)
        if count:
            rc = self._lib.pacspace_leaf_hashes(
                start_index.to_bytes(32, "big"), fingerprints, count, ctypes.addressof(_writable(out, len(out))),
                self.threads,
            )  # fmt: skip
            _check(rc)
        return bytes(out)

    def tree_from_leaves(self, leaves: bytes, count: int) -> tuple[bytes, array[int]]:
        """Requires ``count`` >= 1 leaf hashes of 32 bytes packed."""
        _require(count >= 1 and len(leaves) == 32 * count, "leaves must be count >= 1 x 32 bytes")
        nodes, tree_index = bytearray(32 * (2 * count - 1)), array("I", bytes(4 * count))
        rc = self._lib.pacspace_tree_from_leaves(
            leaves, count, ctypes.addressof(_writable(nodes, len(nodes))),
            ctypes.addressof(_writable(tree_index, 4 * count)), self.threads,
        )  # fmt: skip
        _check(rc)
        return bytes(nodes), tree_index

    def tree_from_values(self, start_index: int, fingerprints: bytes, count: int) -> tuple[bytes, array[int]]:
        """Requires ``count`` >= 1 fingerprints of 32 bytes packed, and the index range as ``leaf_hashes``."""
        _require(count >= 1 and len(fingerprints) == 32 * count, "fingerprints must be count >= 1 x 32 bytes")
        nodes, tree_index = bytearray(32 * (2 * count - 1)), array("I", bytes(4 * count))
        rc = self._lib.pacspace_tree_from_values(
            start_index.to_bytes(32, "big"), fingerprints, count, ctypes.addressof(_writable(nodes, len(nodes))),
            ctypes.addressof(_writable(tree_index, 4 * count)), self.threads,
        )  # fmt: skip
        _check(rc)
        return bytes(nodes), tree_index


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check(rc: int) -> None:
    if rc == -2:
        raise MemoryError("the native Merkle build could not allocate its buffers")
    if rc != 0:
        raise ValueError(f"the native Merkle build refused its input (code {rc}): at most 2**31 - 1 leaves")


def _default_threads() -> int:
    configured = os.environ.get("PACSPACE_NATIVE_THREADS", "").strip()
    if configured:
        return max(1, int(configured))
    return min(os.cpu_count() or 1, 8)


_lock = threading.Lock()
_chosen: list[MerkleBackend | None] = []


def merkle_backend() -> MerkleBackend | None:
    """The backend for node.core.merkle: native when available (and not switched off), else None.

    Decided once per process and logged at INFO. Raises NativeUnavailable only with PACSPACE_NATIVE=1.
    """
    with _lock:
        if not _chosen:
            _chosen.append(_choose())
        return _chosen[0]


def _choose() -> MerkleBackend | None:
    setting = os.environ.get("PACSPACE_NATIVE", "auto").strip().lower()
    if setting in ("0", "false", "no", "off"):
        log.info("merkle tree backend: python (PACSPACE_NATIVE=0)", extra={"merkle_backend": "python"})
        return None
    try:
        backend = NativeMerkle()
    except NativeUnavailable as exc:
        if setting in ("1", "true", "yes", "on"):
            raise
        log.info(f"merkle tree backend: python ({exc})", extra={"merkle_backend": "python"})
        return None
    log.info(f"merkle tree backend: {backend.name}", extra={"merkle_backend": "native"})
    return backend
