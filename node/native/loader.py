"""The native Merkle backend: node/native/merkle.c, built by node/native/build.py, loaded with ctypes.

``merkle_backend()`` is what the node hands to node.core.merkle (``MerkleTree.of(..., backend=...)``):
the native backend when its library is built from the current sources, else None, which means the
pure-Python code (the same bytes, about 8x slower for a 1,000,000-leaf tree). It logs its choice once
at INFO. ``PACSPACE_NATIVE=0`` forces pure Python, ``PACSPACE_NATIVE=1`` makes a missing library an
error; ``PACSPACE_NATIVE_THREADS`` sets the threads per build (default: the CPUs, at most 8);
``PACSPACE_NATIVE_LIBRARY`` loads another library file than node/native/_build/libpacspace_merkle.so
(scripts/test-native-sanitized points it at the AddressSanitizer build, with the sanitizer's runtime
preloaded: without it that library ends the process as it loads).

Every C function is given the byte length of each buffer and refuses one that does not fit its
count (PACSPACE_ERR_BUFFER, raised here as NativeBufferError) before it writes anything.
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
from node.native.build import FLAGS, LIBRARY, SANITIZE_FLAGS, SOURCES, source_hash

ABI_VERSION = 2  # PACSPACE_NATIVE_ABI in merkle.c
# The return codes in merkle.c (PACSPACE_OK and PACSPACE_ERR_*).
OK, ERR_COUNT, ERR_MEMORY, ERR_BUFFER = 0, -1, -2, -3
_SIMD = {0: "scalar", 1: "4-way portable", 2: "4-way AVX2"}

log = logging.getLogger("pacspace.merkle")


class NativeUnavailable(RuntimeError):
    """The library is not built, is stale, or cannot be loaded; the message says which and what to run."""


class NativeBufferError(RuntimeError):
    """A C function refused a buffer (PACSPACE_ERR_BUFFER): too short for its count, or a length that disagrees
    with it. Nothing was written. Never raised by this module's own calls, which size every buffer."""


def configured_library() -> Path:
    """The library file to load: ``PACSPACE_NATIVE_LIBRARY`` when set, else node/native/_build/libpacspace_merkle.so."""
    configured = os.environ.get("PACSPACE_NATIVE_LIBRARY", "").strip()
    return Path(configured) if configured else LIBRARY


def _writable(buffer: bytearray | array[int], size: int) -> ctypes.Array[ctypes.c_char]:
    return (ctypes.c_char * size).from_buffer(buffer)


class NativeMerkle:
    """``MerkleBackend`` over the C library. Thread-safe: every call has its own buffers."""

    def __init__(self, library: Path | None = None, *, threads: int | None = None) -> None:
        library = configured_library() if library is None else library
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
        # The release build or the sanitized one (node/native/build.py), from the sources beside this file.
        if all(source.exists() for source in SOURCES) and built_from not in (
            source_hash(FLAGS),
            source_hash(SANITIZE_FLAGS),
        ):
            raise NativeUnavailable(f"{library} was built from other sources: run scripts/bootstrap to rebuild it")
        if array("I").itemsize != 4:
            raise NativeUnavailable("array('I') is not 32-bit on this platform")
        size_t, ptr, c_int, data = ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        # Each buffer is followed by its length in bytes (merkle.c checks them); n is the count of leaves.
        lib.pacspace_keccak256.argtypes = [data, size_t, ptr, size_t]
        lib.pacspace_leaf_hashes.argtypes = [data, size_t, data, size_t, size_t, ptr, size_t, c_int]
        lib.pacspace_tree_from_leaves.argtypes = [data, size_t, size_t, ptr, size_t, ptr, size_t, c_int]
        lib.pacspace_tree_from_values.argtypes = [data, size_t, data, size_t, size_t, ptr, size_t, ptr, size_t, c_int]
        for function in (
            lib.pacspace_keccak256,
            lib.pacspace_leaf_hashes,
            lib.pacspace_tree_from_leaves,
            lib.pacspace_tree_from_values,
        ):
            function.restype = c_int
        lib.pacspace_simd.restype = c_int
        lib.pacspace_set_simd.argtypes = [c_int]
        lib.pacspace_set_simd.restype = c_int
        self.lib = lib  # the ctypes handle with its signatures set (the tests call the C functions directly)
        self.library = library
        self.threads = max(1, threads if threads is not None else _default_threads())

    @property
    def simd(self) -> str:
        return _SIMD.get(self.lib.pacspace_simd(), "?")

    @property
    def name(self) -> str:
        return f"native ({self.simd}, {self.threads} thread{'s' if self.threads > 1 else ''})"

    def set_simd(self, level: int) -> int:
        """0 scalar, 1 four hashes at once, 2 the same with AVX2, -1 the best; returns the level in use.

        Process-wide, for the tests that compare the levels; the library starts at the best.
        """
        return int(self.lib.pacspace_set_simd(level))

    def keccak256(self, data: bytes) -> bytes:
        out = bytearray(32)
        check_return(self.lib.pacspace_keccak256(data, len(data), ctypes.addressof(_writable(out, 32)), len(out)))
        return bytes(out)

    def leaf_hashes(self, start_index: int, fingerprints: bytes, count: int) -> bytes:
        """Requires ``count`` 32-byte fingerprints packed and 0 <= start_index, start_index + count <= 2**256."""
        _require(len(fingerprints) == 32 * count, "fingerprints must be count x 32 bytes")
        out = bytearray(32 * count)
        if count:
            rc = self.lib.pacspace_leaf_hashes(
                start_index.to_bytes(32, "big"), 32, fingerprints, len(fingerprints), count,
                ctypes.addressof(_writable(out, len(out))), len(out), self.threads,
            )  # fmt: skip
            check_return(rc)
        return bytes(out)

    def tree_from_leaves(self, leaves: bytes, count: int) -> tuple[bytes, array[int]]:
        """Requires ``count`` >= 1 leaf hashes of 32 bytes packed."""
        _require(count >= 1 and len(leaves) == 32 * count, "leaves must be count >= 1 x 32 bytes")
        nodes, tree_index = bytearray(32 * (2 * count - 1)), array("I", bytes(4 * count))
        rc = self.lib.pacspace_tree_from_leaves(
            leaves, len(leaves), count, ctypes.addressof(_writable(nodes, len(nodes))), len(nodes),
            ctypes.addressof(_writable(tree_index, 4 * count)), 4 * count, self.threads,
        )  # fmt: skip
        check_return(rc)
        return bytes(nodes), tree_index

    def tree_from_values(self, start_index: int, fingerprints: bytes, count: int) -> tuple[bytes, array[int]]:
        """Requires ``count`` >= 1 fingerprints of 32 bytes packed, and the index range as ``leaf_hashes``."""
        _require(count >= 1 and len(fingerprints) == 32 * count, "fingerprints must be count >= 1 x 32 bytes")
        nodes, tree_index = bytearray(32 * (2 * count - 1)), array("I", bytes(4 * count))
        rc = self.lib.pacspace_tree_from_values(
            start_index.to_bytes(32, "big"), 32, fingerprints, len(fingerprints), count,
            ctypes.addressof(_writable(nodes, len(nodes))), len(nodes),
            ctypes.addressof(_writable(tree_index, 4 * count)), 4 * count, self.threads,
        )  # fmt: skip
        check_return(rc)
        return bytes(nodes), tree_index


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def check_return(rc: int) -> None:
    """Raises for a return code of merkle.c's entry points: NativeBufferError, MemoryError or ValueError."""
    if rc == OK:
        return
    if rc == ERR_MEMORY:
        raise MemoryError("the native Merkle build could not allocate its buffers")
    if rc == ERR_BUFFER:
        raise NativeBufferError(
            "the native Merkle library refused a buffer that does not fit its count (nothing written)"
        )
    if rc == ERR_COUNT:
        raise ValueError("the native Merkle build refused its count: at least 1 and at most 2**31 - 1 leaves")
    raise RuntimeError(f"the native Merkle library returned an unknown code {rc}")


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
