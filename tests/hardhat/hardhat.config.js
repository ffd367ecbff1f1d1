// Hardhat Network 2.x, the tests' second EVM implementation besides Anvil (tests/evm.py starts it with
// `hardhat node --config tests/hardhat/hardhat.config.js`). Same chain id and development accounts as
// Anvil; the contracts come from forge's out/, so Hardhat compiles nothing.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "prague",
    },
  },
  paths: {
    cache: "../../cache/hardhat",
    artifacts: "../../cache/hardhat/artifacts",
  },
};
