"""API tokens and idempotency keys of the REST API."""
