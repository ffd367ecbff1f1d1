// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PacSpace anchor interface, protocol v2
/// @notice Append-only on-chain log of Merkle roots. The PacSpace node gives every anchored
/// delta a global, contiguous log index and commits each batch of contiguous log indexes
/// `[startIndex, startIndex + count)` as one OpenZeppelin StandardMerkleTree root whose leaves
/// are `keccak256(bytes.concat(keccak256(abi.encode(uint256(logIndex), fingerprint))))`.
/// Batches must start exactly where the previous one ended, so the log has no gaps and no
/// entry is ever anchored twice.
/// @dev Protocol v2 separates two roles. Anchorers (gas wallets) may call `anchor`; they are
/// current-state only, as in v1. Receipt signers are the trust root for receipt signatures: each
/// has one validity window by log index `[fromIndex, untilIndex)`, opened by `authoriseSigner` and
/// closed by `revokeSigner`, both at the current `nextIndex()`. So for every log index below
/// `nextIndex()` the answer of `isSignerFor` never changes, and a receipt keeps verifying after its
/// signing key is rotated out. A verifier checks a receipt signer with
/// `isSignerFor(signer, logIndex)`, not with `isAnchorer`.
interface IPacSpaceAnchor {
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

    /// @notice The signer already has (or had) a validity window. A revoked key is never
    /// authorised again: it may have been compromised.
    /// @param signer The signer that was to be authorised.
    error PacSpaceAnchorSignerExists(address signer);

    /// @notice The signer has no open validity window (never authorised, or already revoked).
    /// @param signer The signer that was to be revoked.
    error PacSpaceAnchorSignerNotActive(address signer);

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
    /// @param authorised Whether the account may now anchor.
    event AnchorerUpdated(address indexed account, bool authorised);

    /// @notice A receipt signer's validity window was opened.
    /// @param signer The authorised signer.
    /// @param fromIndex The first log index the signer may sign for (`nextIndex()` when authorised).
    event SignerAuthorised(address indexed signer, uint64 fromIndex);

    /// @notice A receipt signer's validity window was closed.
    /// @param signer The revoked signer.
    /// @param untilIndex The first log index the signer may no longer sign for (`nextIndex()` when revoked).
    event SignerRevoked(address indexed signer, uint64 untilIndex);

    /// @notice Anchors the next batch of the log. Only an authorised anchorer may call it.
    /// @dev Reverts with `PacSpaceAnchorUnauthorizedAnchorer`, `PacSpaceAnchorEmptyBatch`,
    /// `PacSpaceAnchorZeroRoot` or `PacSpaceAnchorNonContiguousStart`, checked in that order.
    /// Reads and writes no signer storage.
    /// @param startIndex Log index of the first entry; must equal `nextIndex()`.
    /// @param count Number of entries in the batch; must be non-zero.
    /// @param root Merkle root of the batch; must be non-zero.
    /// @return batchId The id of the new batch (the batch count before this call).
    function anchor(uint64 startIndex, uint32 count, bytes32 root) external returns (uint64 batchId);

    /// @notice Authorises or deauthorises an anchorer (a gas wallet). Only the owner may call it.
    /// Anchorers are current-state only and do not make receipt signatures valid.
    /// @dev Reverts with `PacSpaceAnchorZeroAddress` for the zero address.
    /// @param account The account to update.
    /// @param authorised Whether the account may anchor.
    function setAnchorer(address account, bool authorised) external;

    /// @notice Opens a receipt signer's validity window at the current `nextIndex()`. Only the owner may call it.
    /// @dev Reverts with `PacSpaceAnchorZeroAddress` for the zero address and `PacSpaceAnchorSignerExists`
    /// if the signer ever had a window (active or revoked).
    /// @param signer The key to authorise.
    function authoriseSigner(address signer) external;

    /// @notice Closes a receipt signer's validity window at the current `nextIndex()`. Only the owner may call it.
    /// Log indexes below it stay signed for; a key authorised and revoked at the same index signs for none.
    /// @dev Reverts with `PacSpaceAnchorSignerNotActive` unless the signer has an open window.
    /// @param signer The key to revoke.
    function revokeSigner(address signer) external;

    /// @notice The protocol version this contract implements.
    /// @return Always 2 (the v1 contract has no such function, so a call to it reverts).
    function protocolVersion() external pure returns (uint256);

    /// @notice Whether an account may anchor batches. Not a trust root for receipt signatures.
    /// @param account The account to check.
    /// @return True if the account is an authorised anchorer.
    function isAnchorer(address account) external view returns (bool);

    /// @notice A receipt signer's validity window `[fromIndex, untilIndex)` by log index.
    /// @param signer The key to look up.
    /// @return fromIndex The first log index the signer signs for (0 if the signer never existed).
    /// @return untilIndex The first log index it no longer signs for; `type(uint64).max` while active
    /// (0 if the signer never existed).
    /// @return exists Whether the signer was ever authorised.
    function signerWindow(address signer) external view returns (uint64 fromIndex, uint64 untilIndex, bool exists);

    /// @notice Whether a key's signature counts for the log entry at `logIndex`. For every `logIndex`
    /// below `nextIndex()` the answer never changes afterwards.
    /// @param signer The key that signed.
    /// @param logIndex The log index of the signed entry.
    /// @return True if the signer exists and `fromIndex <= logIndex < untilIndex`.
    function isSignerFor(address signer, uint64 logIndex) external view returns (bool);

    /// @notice The first log index not yet anchored; the next batch must start here.
    /// @return The next log index.
    function nextIndex() external view returns (uint64);

    /// @notice The number of batches anchored so far; batch ids are 0, 1, 2, ... (also when the log
    /// starts above index 0).
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
