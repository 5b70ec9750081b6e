"""The API routes, one module per area; each only calls into the engine and the store."""
