"""The C entry points check every buffer length (node/native/merkle.c, ABI 2), called here through ctypes directly.

Each output buffer is allocated longer than the length passed and filled with a guard byte: a refused
call must leave all of it as it was, an accepted one must write only the bytes its count needs.
scripts/test-native-sanitized runs this file (and the other native tests) against the library built
with AddressSanitizer and UBSan.
"""

from __future__ import annotations

import ctypes
import random

import pytest

from node.core.merkle import MerkleTree, compute_leaf_hashes
from node.native import loader
from node.native.loader import ERR_BUFFER, ERR_COUNT, ERR_MEMORY, OK, NativeBufferError, NativeMerkle, check_return
from tests.support import native_merkle

GUARD = 0xA5
SLACK = 64  # guard bytes after the length that is passed


@pytest.fixture(scope="module")
def native() -> NativeMerkle:
    return native_merkle()


class Out:
    """A guarded output buffer: ``size`` bytes plus SLACK more, all GUARD, and its address for ctypes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray([GUARD]) * (size + SLACK)
        self._view = (ctypes.c_char * len(self.data)).from_buffer(self.data)
        self.address = ctypes.addressof(self._view)

    def untouched(self, start: int = 0) -> bool:
        return all(byte == GUARD for byte in self.data[start:])


def _values(count: int, seed: int) -> tuple[int, bytes]:
    rng = random.Random(seed)
    return rng.randrange(2**64), b"".join(rng.randbytes(32) for _ in range(count))


def _fingerprints(packed: bytes) -> list[bytes]:
    return [packed[i : i + 32] for i in range(0, len(packed), 32)]


def test_keccak256_refuses_an_output_shorter_than_32_bytes(native: NativeMerkle) -> None:
    for short in (0, 1, 31):
        out = Out(32)
        assert native.lib.pacspace_keccak256(b"abc", 3, out.address, short) == ERR_BUFFER
        assert out.untouched()
    out = Out(32)
    assert native.lib.pacspace_keccak256(b"abc", 3, out.address, 32) == OK
    assert out.data[:32].hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    assert out.untouched(32)
    longer = Out(32 + 16)
    assert native.lib.pacspace_keccak256(b"abc", 3, longer.address, 48) == OK
    assert longer.data[:32] == out.data[:32] and longer.untouched(32)


def test_keccak256_refuses_a_null_output_or_a_null_input_with_a_length(native: NativeMerkle) -> None:
    assert native.lib.pacspace_keccak256(b"abc", 3, None, 32) == ERR_BUFFER
    out = Out(32)
    assert native.lib.pacspace_keccak256(None, 5, out.address, 32) == ERR_BUFFER
    assert out.untouched()
    assert native.lib.pacspace_keccak256(None, 0, out.address, 32) == OK  # keccak256 of nothing
    assert out.data[:32].hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


@pytest.mark.parametrize("count", [1, 5, 9000])  # 9000: four at a time and over two threads
def test_leaf_hashes_write_exactly_their_output_and_refuse_a_short_one(native: NativeMerkle, count: int) -> None:
    start, fps = _values(count, count)
    start_be, need = start.to_bytes(32, "big"), 32 * count
    lib = native.lib
    for short in (0, need - 1):
        out = Out(need)
        assert lib.pacspace_leaf_hashes(start_be, 32, fps, len(fps), count, out.address, short, 2) == ERR_BUFFER
        assert out.untouched()
    out = Out(need)
    assert lib.pacspace_leaf_hashes(start_be, 32, fps, len(fps), count, out.address, need, 2) == OK
    assert out.untouched(need)
    assert _fingerprints(bytes(out.data[:need])) == compute_leaf_hashes(start, _fingerprints(fps))
    roomy = Out(need + 32)
    assert lib.pacspace_leaf_hashes(start_be, 32, fps, len(fps), count, roomy.address, need + 32, 2) == OK
    assert roomy.data[:need] == out.data[:need] and roomy.untouched(need)


def test_leaf_hashes_refuse_inputs_whose_lengths_disagree_with_the_count(native: NativeMerkle) -> None:
    start, fps = _values(4, 1)
    start_be, lib = start.to_bytes(32, "big"), native.lib
    for start_len, fps_len in [(31, 128), (33, 128), (0, 128), (32, 127), (32, 129), (32, 0)]:
        out = Out(128)
        rc = lib.pacspace_leaf_hashes(start_be + b"\0", start_len, fps + b"\0", fps_len, 4, out.address, 128, 1)
        assert rc == ERR_BUFFER, (start_len, fps_len)
        assert out.untouched()
    out = Out(128)
    assert lib.pacspace_leaf_hashes(start_be, 32, None, 128, 4, out.address, 128, 1) == ERR_BUFFER
    assert lib.pacspace_leaf_hashes(start_be, 32, fps, 128, 4, None, 128, 1) == ERR_BUFFER
    assert out.untouched()
    assert lib.pacspace_leaf_hashes(start_be, 32, None, 0, 0, None, 0, 1) == OK  # no leaves, nothing to write
    assert lib.pacspace_leaf_hashes(start_be, 32, None, 0, 2**31, None, 0, 1) == ERR_COUNT


def _tree_outputs(count: int) -> tuple[Out, Out]:
    return Out(32 * (2 * count - 1)), Out(4 * count)


@pytest.mark.parametrize("count", [1, 2, 7, 5000])
def test_trees_write_exactly_their_outputs_and_refuse_short_ones(native: NativeMerkle, count: int) -> None:
    start, fps = _values(count, 100 + count)
    start_be, lib = start.to_bytes(32, "big"), native.lib
    expected = MerkleTree.of(start, _fingerprints(fps))
    leaves = b"".join(compute_leaf_hashes(start, _fingerprints(fps)))
    nodes_need, index_need = 32 * (2 * count - 1), 4 * count

    def from_values(nodes: Out, index: Out, nodes_len: int, index_len: int) -> int:
        return int(
            lib.pacspace_tree_from_values(
                start_be, 32, fps, len(fps), count, nodes.address, nodes_len, index.address, index_len, 2
            )
        )

    def from_leaves(nodes: Out, index: Out, nodes_len: int, index_len: int) -> int:
        return int(
            lib.pacspace_tree_from_leaves(
                leaves, len(leaves), count, nodes.address, nodes_len, index.address, index_len, 2
            )
        )

    for build in (from_values, from_leaves):
        for nodes_len, index_len in [(nodes_need - 1, index_need), (nodes_need, index_need - 1), (0, 0)]:
            nodes, index = _tree_outputs(count)
            assert build(nodes, index, nodes_len, index_len) == ERR_BUFFER, (build.__name__, nodes_len, index_len)
            assert nodes.untouched() and index.untouched()
        nodes, index = _tree_outputs(count)
        assert build(nodes, index, nodes_need, index_need) == OK
        assert nodes.untouched(nodes_need) and index.untouched(index_need)
        assert bytes(nodes.data[:nodes_need]) == expected.pack()
        tree_index = [int.from_bytes(index.data[i : i + 4], "little") for i in range(0, index_need, 4)]
        assert tuple(tree_index) == expected.tree_index


def test_trees_refuse_inputs_that_disagree_with_the_count_or_no_leaves(native: NativeMerkle) -> None:
    start, fps = _values(3, 7)
    start_be, lib = start.to_bytes(32, "big"), native.lib
    for fps_len in (95, 97, 0):
        nodes, index = _tree_outputs(3)
        args = (nodes.address, 160, index.address, 12, 1)
        assert lib.pacspace_tree_from_values(start_be, 32, fps + b"\0", fps_len, 3, *args) == ERR_BUFFER
        assert lib.pacspace_tree_from_leaves(fps + b"\0", fps_len, 3, *args) == ERR_BUFFER
        assert nodes.untouched() and index.untouched()
    nodes, index = _tree_outputs(3)
    assert lib.pacspace_tree_from_values(start_be, 31, fps, 96, 3, nodes.address, 160, index.address, 12, 1) == (
        ERR_BUFFER
    )
    assert lib.pacspace_tree_from_values(start_be, 32, fps, 96, 3, None, 160, index.address, 12, 1) == ERR_BUFFER
    assert lib.pacspace_tree_from_leaves(fps, 96, 3, nodes.address, 160, None, 12, 1) == ERR_BUFFER
    assert nodes.untouched() and index.untouched()
    for count in (0, 2**31):
        assert lib.pacspace_tree_from_values(start_be, 32, fps, 96, count, None, 0, None, 0, 1) == ERR_COUNT
        assert lib.pacspace_tree_from_leaves(fps, 96, count, None, 0, None, 0, 1) == ERR_COUNT


def _exact(data: bytes | int) -> ctypes.Array[ctypes.c_char]:
    """A ctypes buffer of exactly these bytes (or this many zero bytes). Over 16 bytes it is allocated on its own
    with nothing after it, so the sanitized run (PYTHONMALLOC=malloc) reports even a 1-byte overrun; Python's
    bytes, bytearray and array objects keep spare bytes at their end, where an overrun would go unseen."""
    if isinstance(data, int):
        return (ctypes.c_char * data)()
    return (ctypes.c_char * len(data)).from_buffer_copy(data)


@pytest.mark.parametrize("count", [1, 3, 4, 9, 5000])
def test_buffers_of_exactly_the_lengths_passed_hold_every_result(native: NativeMerkle, count: int) -> None:
    start, fps = _values(count, 200 + count)
    start_be, fingerprints, lib = _exact(start.to_bytes(32, "big")), _exact(fps), native.lib
    expected = MerkleTree.of(start, _fingerprints(fps))
    digest = _exact(32)
    assert lib.pacspace_keccak256(_exact(fps), len(fps), digest, 32) == OK
    assert digest.raw == native.keccak256(fps)
    leaves = _exact(32 * count)
    assert lib.pacspace_leaf_hashes(start_be, 32, fingerprints, len(fps), count, leaves, len(leaves), 2) == OK
    assert _fingerprints(leaves.raw) == compute_leaf_hashes(start, _fingerprints(fps))
    for build in ("values", "leaves"):
        nodes, index = _exact(32 * (2 * count - 1)), _exact(4 * count)
        if build == "values":
            rc = lib.pacspace_tree_from_values(
                start_be, 32, fingerprints, len(fps), count, nodes, len(nodes), index, len(index), 2
            )
        else:
            rc = lib.pacspace_tree_from_leaves(leaves, len(leaves), count, nodes, len(nodes), index, len(index), 2)
        assert rc == OK
        assert nodes.raw == expected.pack()
        assert tuple(int.from_bytes(index.raw[i : i + 4], "little") for i in range(0, 4 * count, 4)) == (
            expected.tree_index
        )


def test_return_codes_become_typed_exceptions() -> None:
    check_return(OK)
    with pytest.raises(NativeBufferError, match="nothing written"):
        check_return(ERR_BUFFER)
    with pytest.raises(MemoryError):
        check_return(ERR_MEMORY)
    with pytest.raises(ValueError, match="2\\*\\*31 - 1"):
        check_return(ERR_COUNT)
    with pytest.raises(RuntimeError, match="unknown code -9"):
        check_return(-9)
    assert issubclass(NativeBufferError, RuntimeError) and not issubclass(NativeBufferError, loader.NativeUnavailable)
