"""Compare: a customer's own records against the ledger, and settling the variance."""
