// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script} from "forge-std/Script.sol";
import {console2} from "forge-std/console2.sol";

import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";

/// @title Deploy
/// @notice Deploys `PacSpaceAnchor` (protocol v2). Owner, first anchorer, first receipt signer and the
/// log's first index come from the environment; the signer defaults to the anchorer and the first index
/// to 0 (set it to a v1 contract's `nextIndex()` to continue that log):
/// `PACSPACE_OWNER=0x.. PACSPACE_ANCHORER=0x.. [PACSPACE_SIGNER=0x..] [PACSPACE_FIRST_INDEX=n] \
///   forge script contracts/script/Deploy.s.sol:Deploy \
///   --rpc-url http://127.0.0.1:8545 --private-key <deployer key> --broadcast`
contract Deploy is Script {
    /// @notice Reads `PACSPACE_OWNER`, `PACSPACE_ANCHORER`, `PACSPACE_SIGNER` and `PACSPACE_FIRST_INDEX`
    /// and broadcasts the deployment.
    /// @return deployed The address of the new anchor contract.
    function run() external returns (address deployed) {
        address owner = vm.envAddress("PACSPACE_OWNER");
        address anchorer = vm.envAddress("PACSPACE_ANCHORER");
        address signer = vm.envOr("PACSPACE_SIGNER", anchorer);
        uint64 firstIndex = uint64(vm.envOr("PACSPACE_FIRST_INDEX", uint256(0)));

        vm.startBroadcast();
        deployed = address(deploy(owner, anchorer, signer, firstIndex));
        vm.stopBroadcast();

        console2.log("PacSpaceAnchor deployed at", deployed);
    }

    /// @notice Deploys an anchor contract; the caller (or the active broadcast) is the deployer.
    /// @param owner The owner, who manages anchorers and receipt signers.
    /// @param anchorer The first authorised anchorer.
    /// @param signer The first receipt signer, authorised from `firstIndex`.
    /// @param firstIndex The log's first index (0 for a new log).
    /// @return The new anchor contract.
    function deploy(address owner, address anchorer, address signer, uint64 firstIndex)
        public
        returns (PacSpaceAnchor)
    {
        return new PacSpaceAnchor(owner, anchorer, signer, firstIndex);
    }
}
