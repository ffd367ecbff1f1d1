// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script} from "forge-std/Script.sol";
import {console2} from "forge-std/console2.sol";

import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";

/// @title Deploy
/// @notice Deploys `PacSpaceAnchor`. Owner and first anchorer come from the environment:
/// `PACSPACE_OWNER=0x.. PACSPACE_ANCHORER=0x.. forge script contracts/script/Deploy.s.sol:Deploy \
///   --rpc-url http://127.0.0.1:8545 --private-key <deployer key> --broadcast`
contract Deploy is Script {
    /// @notice Reads `PACSPACE_OWNER` and `PACSPACE_ANCHORER` and broadcasts the deployment.
    /// @return deployed The address of the new anchor contract.
    function run() external returns (address deployed) {
        address owner = vm.envAddress("PACSPACE_OWNER");
        address anchorer = vm.envAddress("PACSPACE_ANCHORER");

        vm.startBroadcast();
        deployed = address(deploy(owner, anchorer));
        vm.stopBroadcast();

        console2.log("PacSpaceAnchor deployed at", deployed);
    }

    /// @notice Deploys an anchor contract; the caller (or the active broadcast) is the deployer.
    /// @param owner The owner, who manages anchorers.
    /// @param anchorer The first authorised anchorer (and receipt signer).
    /// @return The new anchor contract.
    function deploy(address owner, address anchorer) public returns (PacSpaceAnchor) {
        return new PacSpaceAnchor(owner, anchorer);
    }
}
