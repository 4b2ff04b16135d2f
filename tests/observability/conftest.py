"""The realtime tests' fixtures (the real ASGI app's HTTP client, short timeouts, in-memory presence)."""
from tests.realtime.conftest import http, realtime_settings  # noqa: F401 - fixtures used here too
