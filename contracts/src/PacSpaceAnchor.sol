// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IPacSpaceAnchor} from "./interfaces/IPacSpaceAnchor.sol";

/// @title PacSpace anchor, protocol v2
/// @notice Append-only log of Merkle roots for PacSpace deltas. Every anchored delta has a global,
/// contiguous log index; each batch covers `[startIndex, startIndex + count)` and must start at
/// `nextIndex()`, so the chain itself enforces that the log has no gaps and no double anchoring.
/// Anyone can check a batch root and range against storage (`isAnchored`) and an entry's
/// inclusion proof against an anchored batch (`verify`).
/// Two roles, both managed by the owner (two-step transfer): anchorers (gas wallets) may anchor and
/// are current-state only; receipt signers are the trust root for receipt signatures, each with one
/// validity window by log index. `authoriseSigner` opens a window and `revokeSigner` closes it, both at
/// `nextIndex()` and nothing else writes windows, so `isSignerFor(signer, logIndex)` never changes for
/// a `logIndex` below `nextIndex()`: receipts keep verifying after their key is rotated and revoked.
/// The log may start above index 0 (`firstIndex`), to continue a v1 contract's log.
/// @dev Gas: as v1, one fresh storage slot per batch (the commitment `keccak256(abi.encode(root, count))`
/// keyed by start index) plus one non-zero to non-zero update of the slot packing `nextIndex` and
/// `batchCount`; the root itself is carried in the `BatchAnchored` event. `anchor` never touches signer
/// storage. Storage layout after `Ownable2Step`'s two slots: anchorers (2), commitments (3), log head (4),
/// signer windows (5).
contract PacSpaceAnchor is IPacSpaceAnchor, Ownable2Step {
    /// @dev Log head, packed in one slot so `anchor` updates it with a single SSTORE. `initialised`
    /// is set by the constructor so the slot is never zero: the first batch then pays the same
    /// non-zero to non-zero update as every later one, not a 20,000 gas zero to non-zero write
    /// (with `firstIndex == 0` the other fields are zero).
    struct LogHead {
        uint64 nextIndex;
        uint64 batchCount;
        bool initialised;
    }

    /// @dev A receipt signer's validity window `[fromIndex, untilIndex)`, packed in one slot.
    /// `revoked` tells a closed window from an open one even when it was closed at `type(uint64).max`.
    struct SignerWindow {
        uint64 fromIndex;
        uint64 untilIndex;
        bool exists;
        bool revoked;
    }

    /// @dev `untilIndex` of an open window.
    uint64 private constant _OPEN = type(uint64).max;

    /// @dev Accounts allowed to anchor batches.
    mapping(address account => bool authorised) private _anchorers;

    /// @dev `keccak256(abi.encode(root, count))` of each batch, keyed by its start index.
    mapping(uint64 startIndex => bytes32 commitment) private _commitments;

    /// @dev First log index not yet anchored and number of batches anchored.
    LogHead private _head;

    /// @dev Validity window of every signer ever authorised.
    mapping(address signer => SignerWindow window) private _signers;

    /// @notice Deploys the anchor with an owner, a first anchorer and a first receipt signer.
    /// @param initialOwner The owner, who manages anchorers and signers (OpenZeppelin `Ownable` rejects zero).
    /// @param initialAnchorer The first authorised anchorer; must be non-zero.
    /// @param initialSigner The first receipt signer, whose window opens at `firstIndex`; must be non-zero.
    /// It may be the same account as `initialAnchorer`.
    /// @param firstIndex The log's first index: 0 for a new log, or the `nextIndex()` of the v1 contract
    /// whose log this one continues. Batch ids still start at 0.
    constructor(address initialOwner, address initialAnchorer, address initialSigner, uint64 firstIndex)
        Ownable(initialOwner)
    {
        _setAnchorer(initialAnchorer, true);
        _head = LogHead({nextIndex: firstIndex, batchCount: 0, initialised: true});
        _authoriseSigner(initialSigner, firstIndex);
    }

    /// @inheritdoc IPacSpaceAnchor
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

    /// @inheritdoc IPacSpaceAnchor
    function setAnchorer(address account, bool authorised) external onlyOwner {
        _setAnchorer(account, authorised);
    }

    /// @inheritdoc IPacSpaceAnchor
    function authoriseSigner(address signer) external onlyOwner {
        _authoriseSigner(signer, _head.nextIndex);
    }

    /// @inheritdoc IPacSpaceAnchor
    function revokeSigner(address signer) external onlyOwner {
        SignerWindow storage window = _signers[signer];
        if (!window.exists || window.revoked) revert PacSpaceAnchorSignerNotActive(signer);
        uint64 untilIndex = _head.nextIndex;
        window.untilIndex = untilIndex;
        window.revoked = true;
        emit SignerRevoked(signer, untilIndex);
    }

    /// @inheritdoc IPacSpaceAnchor
    function protocolVersion() external pure returns (uint256) {
        return 2;
    }

    /// @inheritdoc IPacSpaceAnchor
    function isAnchorer(address account) external view returns (bool) {
        return _anchorers[account];
    }

    /// @inheritdoc IPacSpaceAnchor
    function signerWindow(address signer) external view returns (uint64 fromIndex, uint64 untilIndex, bool exists) {
        SignerWindow memory window = _signers[signer];
        return (window.fromIndex, window.untilIndex, window.exists);
    }

    /// @inheritdoc IPacSpaceAnchor
    function isSignerFor(address signer, uint64 logIndex) external view returns (bool) {
        SignerWindow memory window = _signers[signer];
        return window.exists && window.fromIndex <= logIndex && logIndex < window.untilIndex;
    }

    /// @inheritdoc IPacSpaceAnchor
    function nextIndex() external view returns (uint64) {
        return _head.nextIndex;
    }

    /// @inheritdoc IPacSpaceAnchor
    function batchCount() external view returns (uint64) {
        return _head.batchCount;
    }

    /// @inheritdoc IPacSpaceAnchor
    function batchCommitment(uint64 startIndex) external view returns (bytes32) {
        return _commitments[startIndex];
    }

    /// @inheritdoc IPacSpaceAnchor
    function isAnchored(uint64 startIndex, uint32 count, bytes32 root) public view returns (bool) {
        bytes32 stored = _commitments[startIndex];
        return stored != bytes32(0) && stored == _commitment(root, count);
    }

    /// @inheritdoc IPacSpaceAnchor
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

    /// @dev Opens a new signer's window at `fromIndex` (always the current `nextIndex`) and emits
    /// `SignerAuthorised`; rejects the zero address and any signer that ever had a window.
    function _authoriseSigner(address signer, uint64 fromIndex) private {
        if (signer == address(0)) revert PacSpaceAnchorZeroAddress();
        if (_signers[signer].exists) revert PacSpaceAnchorSignerExists(signer);
        _signers[signer] = SignerWindow({fromIndex: fromIndex, untilIndex: _OPEN, exists: true, revoked: false});
        emit SignerAuthorised(signer, fromIndex);
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
