"""HTTP adapter: FastAPI routers, authentication, and the one error body (RFC 9457)."""
