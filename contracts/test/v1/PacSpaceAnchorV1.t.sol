// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {PacSpaceAnchorV1} from "../../src/v1/PacSpaceAnchorV1.sol";
import {AnchorLogBehaviour, IAnchorLog} from "../shared/AnchorLogBehaviour.sol";

/// @dev v1 has no behaviour beyond the shared anchor log: every test is in `AnchorLogBehaviour`.
contract PacSpaceAnchorV1Test is AnchorLogBehaviour {
    function _deploy(address owner_, address anchorer_) internal override returns (IAnchorLog) {
        return IAnchorLog(address(new PacSpaceAnchorV1(owner_, anchorer_)));
    }
}
