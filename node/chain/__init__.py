"""The EVM adapter: deploy the anchor contract, send anchor transactions, read chain state."""
