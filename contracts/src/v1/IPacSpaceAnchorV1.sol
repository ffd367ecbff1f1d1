// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PacSpace anchor interface, protocol v1
/// @notice Interface of `PacSpaceAnchorV1`. Its errors and events keep the names (and so the selectors and
/// topics) that deployed v1 contracts emit. Append-only on-chain log of Merkle roots. The PacSpace node gives every anchored
/// delta a global, contiguous log index and commits each batch of contiguous log indexes
/// `[startIndex, startIndex + count)` as one OpenZeppelin StandardMerkleTree root whose leaves
/// are `keccak256(bytes.concat(keccak256(abi.encode(uint256(logIndex), fingerprint))))`.
/// Batches must start exactly where the previous one ended, so the log has no gaps and no
/// entry is ever anchored twice.
/// @dev Authorised anchorers are also the trust root for receipt signatures: the node signs
/// receipts with an anchorer key, so a verifier checks a receipt signer with `isAnchorer`.
interface IPacSpaceAnchorV1 {
    /// @notice The caller is not an authorised anchorer.
    /// @param account The caller that tried to anchor.
    error PacSpaceAnchorUnauthorizedAnchorer(address account);

    /// @notice The batch does not start at the first log index not yet anchored.
    /// @param expected The start index the contract expects (`nextIndex()`).
    /// @param provided The start index the caller gave.
    error PacSpaceAnchorNonContiguousStart(uint64 expected, uint64 provided);

    /// @notice The batch has no entries (`count` is zero).
    error PacSpaceAnchorEmptyBatch();

    /// @notice The batch root is zero.
    error PacSpaceAnchorZeroRoot();

    /// @notice The zero address was given where an account is required.
    error PacSpaceAnchorZeroAddress();

    /// @notice A batch of contiguous log entries was anchored.
    /// @param batchId Sequential id of the batch (0, 1, 2, ...).
    /// @param root Merkle root of the batch (OpenZeppelin StandardMerkleTree, `["uint256","bytes32"]` leaves).
    /// @param startIndex Log index of the first entry in the batch.
    /// @param count Number of entries in the batch; it covers `[startIndex, startIndex + count)`.
    /// @param anchorer The authorised anchorer that submitted the batch.
    event BatchAnchored(
        uint64 indexed batchId, bytes32 indexed root, uint64 startIndex, uint32 count, address indexed anchorer
    );

    /// @notice An account's anchorer authorisation was set.
    /// @param account The account whose authorisation changed.
    /// @param authorised Whether the account may now anchor (and sign receipts).
    event AnchorerUpdated(address indexed account, bool authorised);

    /// @notice Anchors the next batch of the log. Only an authorised anchorer may call it.
    /// @dev Reverts with `PacSpaceAnchorUnauthorizedAnchorer`, `PacSpaceAnchorEmptyBatch`,
    /// `PacSpaceAnchorZeroRoot` or `PacSpaceAnchorNonContiguousStart`, checked in that order.
    /// @param startIndex Log index of the first entry; must equal `nextIndex()`.
    /// @param count Number of entries in the batch; must be non-zero.
    /// @param root Merkle root of the batch; must be non-zero.
    /// @return batchId The id of the new batch (the batch count before this call).
    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64 batchId);

    /// @notice Authorises or deauthorises an anchorer (and receipt signer). Only the owner may call it.
    /// @dev Reverts with `PacSpaceAnchorZeroAddress` for the zero address.
    /// @param account The account to update.
    /// @param authorised Whether the account may anchor.
    function setAnchorer(address account, bool authorised) external;

    /// @notice Whether an account may anchor batches; this is also the trust root for receipt signatures.
    /// @param account The account to check.
    /// @return True if the account is an authorised anchorer.
    function isAnchorer(address account) external view returns (bool);

    /// @notice The first log index not yet anchored; the next batch must start here.
    /// @return The next log index.
    function nextIndex() external view returns (uint64);

    /// @notice The number of batches anchored so far; batch ids are 0, 1, 2, ...
    /// @return The batch count.
    function batchCount() external view returns (uint64);

    /// @notice The stored commitment of the batch starting at `startIndex`.
    /// @param startIndex Log index of the batch's first entry.
    /// @return `keccak256(abi.encode(root, count))` of that batch, or zero if no batch starts there.
    function batchCommitment(uint64 startIndex) external view returns (bytes32);

    /// @notice Whether a batch with exactly this start, count and root has been anchored.
    /// @param startIndex Log index of the batch's first entry.
    /// @param count Number of entries in the batch.
    /// @param root Merkle root of the batch.
    /// @return True if the batch is anchored.
    function isAnchored(uint64 startIndex, uint32 count, bytes32 root) external view returns (bool);

    /// @notice Verifies that a log entry is included in an anchored batch. Never reverts on bad input.
    /// @param startIndex Log index of the batch's first entry.
    /// @param count Number of entries in the batch.
    /// @param root Merkle root of the batch.
    /// @param logIndex Log index of the entry; must lie in `[startIndex, startIndex + count)`.
    /// @param fingerprint The entry's fingerprint (EIP-712 digest of the delta).
    /// @param proof OpenZeppelin Merkle proof (sorted-pair keccak256) from the entry's leaf to `root`.
    /// @return True if the batch is anchored, `logIndex` is in its range and the proof is valid.
    function verify(
        uint64 startIndex,
        uint32 count,
        bytes32 root,
        uint64 logIndex,
        bytes32 fingerprint,
        bytes32[] calldata proof
    ) external view returns (bool);
}
