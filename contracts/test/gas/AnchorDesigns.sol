// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Reference designs for the gas benchmark (`bench/bench.py --sections gas`), never deployed by
// the node. Each has `PacSpaceAnchor`'s constructor and `anchor` signature so the benchmark drives them
// exactly like the real contract, and each enforces the one rule every design needs (a batch starts
// where the previous one ended), so the figures compare what storage choices cost, not shortcuts.
//
// - `StorageFloorAnchor`: the least a contract can do and still keep a commitment per batch in
//   storage (what `isAnchored` / `verify` read): no authorisation, no event.
// - `StorageEventFloorAnchor`: the same plus an event carrying the root, so that batches can be found.
// - `HashChainAnchor`: authorisation, contiguity and the event, but no slot per batch: one running hash
//   over every batch instead. Batches are then proven from event logs, not from contract storage.

/// @dev `nextIndex` is kept one above the real value so that its slot is never zero: every batch pays a
/// non-zero to non-zero update, as in `PacSpaceAnchor`.
contract StorageFloorAnchor {
    uint64 private _nextIndexPlusOne = 1;
    mapping(uint64 startIndex => bytes32 commitment) private _commitments;

    constructor(address, address, address, uint64) {}

    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64) {
        require(startIndex + 1 == _nextIndexPlusOne, "not contiguous");
        _nextIndexPlusOne = startIndex + 1 + count;
        _commitments[startIndex] = keccak256(abi.encode(root, uint256(count)));
        return 0;
    }

    function batchCommitment(uint64 startIndex) external view returns (bytes32) {
        return _commitments[startIndex];
    }
}

contract StorageEventFloorAnchor {
    event BatchAnchored(bytes32 root, uint64 startIndex, uint32 count);

    uint64 private _nextIndexPlusOne = 1;
    mapping(uint64 startIndex => bytes32 commitment) private _commitments;

    constructor(address, address, address, uint64) {}

    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64) {
        require(startIndex + 1 == _nextIndexPlusOne, "not contiguous");
        _nextIndexPlusOne = startIndex + 1 + count;
        _commitments[startIndex] = keccak256(abi.encode(root, uint256(count)));
        emit BatchAnchored(root, startIndex, count);
        return 0;
    }

    function batchCommitment(uint64 startIndex) external view returns (bytes32) {
        return _commitments[startIndex];
    }
}

contract HashChainAnchor {
    event BatchAnchored(
        uint64 indexed batchId, bytes32 indexed root, uint64 startIndex, uint32 count, address indexed anchorer
    );

    struct LogHead {
        uint64 nextIndex;
        uint64 batchCount;
        bool initialised;
    }

    mapping(address account => bool authorised) private _anchorers;
    LogHead private _head;
    /// @dev `keccak256(abi.encode(previous chainHead, root, startIndex, count))` over every batch so far.
    bytes32 public chainHead;

    constructor(address, address initialAnchorer, address, uint64) {
        _anchorers[initialAnchorer] = true;
        _head.initialised = true;
        chainHead = keccak256("PacSpace hash-chained log");
    }

    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64 batchId) {
        require(_anchorers[msg.sender], "not an anchorer");
        LogHead memory head = _head;
        require(startIndex == head.nextIndex, "not contiguous");
        batchId = head.batchCount;
        _head = LogHead({nextIndex: startIndex + count, batchCount: batchId + 1, initialised: true});
        chainHead = keccak256(abi.encode(chainHead, root, uint256(startIndex), uint256(count)));
        emit BatchAnchored(batchId, root, startIndex, count, msg.sender);
    }
}
