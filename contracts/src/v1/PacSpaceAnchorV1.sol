// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IPacSpaceAnchorV1} from "./IPacSpaceAnchorV1.sol";

/// @title PacSpace anchor, protocol v1
/// @notice Protocol v1 of the anchor, kept with its logic unchanged so that tests and tools can run the
/// contract that v1 deployments use; new deployments use `PacSpaceAnchor` (protocol v2).
/// Append-only log of Merkle roots for PacSpace deltas. Every anchored delta has a global,
/// contiguous log index; each batch covers `[startIndex, startIndex + count)` and must start at
/// `nextIndex()`, so the chain itself enforces that the log has no gaps and no double anchoring.
/// Anyone can check a batch root and range against storage (`isAnchored`) and an entry's
/// inclusion proof against an anchored batch (`verify`). Authorised anchorers are the trust root for receipt signatures: the node signs its
/// receipts with an anchorer key, so `isAnchorer(signer)` tells a verifier to trust a receipt.
/// The owner (two-step transfer) manages anchorers.
/// @dev Gas: one fresh storage slot per batch (the commitment `keccak256(abi.encode(root, count))`
/// keyed by start index) plus one non-zero to non-zero update of the slot packing `nextIndex` and
/// `batchCount`; the root itself is carried in the `BatchAnchored` event.
contract PacSpaceAnchorV1 is IPacSpaceAnchorV1, Ownable2Step {
    /// @dev Log head, packed in one slot so `anchor` updates it with a single SSTORE. `initialised`
    /// is set by the constructor so the slot is never zero: the first batch then pays the same
    /// non-zero to non-zero update as every later one, not a 20,000 gas zero to non-zero write.
    struct LogHead {
        uint64 nextIndex;
        uint64 batchCount;
        bool initialised;
    }

    /// @dev Accounts allowed to anchor batches and sign receipts.
    mapping(address account => bool authorised) private _anchorers;

    /// @dev `keccak256(abi.encode(root, count))` of each batch, keyed by its start index.
    mapping(uint64 startIndex => bytes32 commitment) private _commitments;

    /// @dev First log index not yet anchored and number of batches anchored.
    LogHead private _head;

    /// @notice Deploys the anchor with an owner and a first authorised anchorer.
    /// @param initialOwner The owner, who manages anchorers (OpenZeppelin `Ownable` rejects zero).
    /// @param initialAnchorer The first authorised anchorer (and receipt signer); must be non-zero.
    constructor(address initialOwner, address initialAnchorer) Ownable(initialOwner) {
        _setAnchorer(initialAnchorer, true);
        _head.initialised = true;
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64 batchId) {
        if (!_anchorers[msg.sender]) revert PacSpaceAnchorUnauthorizedAnchorer(msg.sender);
        if (count == 0) revert PacSpaceAnchorEmptyBatch();
        if (root == bytes32(0)) revert PacSpaceAnchorZeroRoot();

        LogHead memory head = _head;
        if (startIndex != head.nextIndex) revert PacSpaceAnchorNonContiguousStart(head.nextIndex, startIndex);

        batchId = head.batchCount;
        // Checked uint64 arithmetic: a batch past the end of the index space reverts (Panic 0x11).
        _head = LogHead({nextIndex: startIndex + count, batchCount: batchId + 1, initialised: true});
        // The slot is fresh: `startIndex == nextIndex` and every earlier batch starts below it.
        _commitments[startIndex] = _commitment(root, count);

        emit BatchAnchored(batchId, root, startIndex, count, msg.sender);
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function setAnchorer(address account, bool authorised) external onlyOwner {
        _setAnchorer(account, authorised);
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function isAnchorer(address account) external view returns (bool) {
        return _anchorers[account];
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function nextIndex() external view returns (uint64) {
        return _head.nextIndex;
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function batchCount() external view returns (uint64) {
        return _head.batchCount;
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function batchCommitment(uint64 startIndex) external view returns (bytes32) {
        return _commitments[startIndex];
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function isAnchored(uint64 startIndex, uint32 count, bytes32 root) public view returns (bool) {
        bytes32 stored = _commitments[startIndex];
        return stored != bytes32(0) && stored == _commitment(root, count);
    }

    /// @inheritdoc IPacSpaceAnchorV1
    function verify(
        uint64 startIndex,
        uint32 count,
        bytes32 root,
        uint64 logIndex,
        bytes32 fingerprint,
        bytes32[] calldata proof
    ) external view returns (bool) {
        // Widened to uint256 so that no input can overflow and revert.
        if (logIndex < startIndex || uint256(logIndex) >= uint256(startIndex) + count) return false;
        if (!isAnchored(startIndex, count, root)) return false;
        return MerkleProof.verifyCalldata(proof, root, _leaf(logIndex, fingerprint));
    }

    /// @dev Sets an anchorer's authorisation and emits `AnchorerUpdated`; rejects the zero address.
    function _setAnchorer(address account, bool authorised) private {
        if (account == address(0)) revert PacSpaceAnchorZeroAddress();
        _anchorers[account] = authorised;
        emit AnchorerUpdated(account, authorised);
    }

    /// @dev `keccak256(abi.encode(root, count))`, hashed in scratch space to avoid a memory allocation.
    /// Takes `count` as uint256 so the assembly never sees dirty upper bits.
    function _commitment(bytes32 root, uint256 count) private pure returns (bytes32 commitment) {
        assembly ("memory-safe") {
            mstore(0x00, root)
            mstore(0x20, count)
            commitment := keccak256(0x00, 0x40)
        }
    }

    /// @dev StandardMerkleTree leaf for `["uint256","bytes32"]`:
    /// `keccak256(bytes.concat(keccak256(abi.encode(uint256(logIndex), fingerprint))))`.
    function _leaf(uint256 logIndex, bytes32 fingerprint) private pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, logIndex)
            mstore(0x20, fingerprint)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }
}
