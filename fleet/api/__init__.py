"""The REST API (FastAPI): thin routes over the engine, the store and the service."""
