"""Keys: tenant API keys and the receipt signer / anchorer rotation commands."""
