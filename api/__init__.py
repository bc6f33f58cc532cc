"""The Litestar HTTP API: thin controllers over the engine."""
