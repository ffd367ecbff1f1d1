// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev Reference Merkle helpers, written out literally (StandardMerkleTree `["uint256","bytes32"]` leaves,
/// sorted-pair keccak256) to cross-check the contract.
abstract contract MerkleHelpers {
    function _leaf(uint256 logIndex, bytes32 fingerprint) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(logIndex, fingerprint))));
    }

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _fingerprint(uint256 logIndex) internal pure returns (bytes32) {
        return keccak256(abi.encode("fingerprint", logIndex));
    }

    function _proof() internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](0);
    }

    function _proof(bytes32 a) internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](1);
        proof[0] = a;
    }

    function _proof(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](2);
        proof[0] = a;
        proof[1] = b;
    }
}
