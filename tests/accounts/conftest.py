"""Account tests run against the admin and account routes only (see tests/admin/urls.py)."""
import pytest


@pytest.fixture(autouse=True)
def _admin_urls(settings):
    settings.ROOT_URLCONF = "tests.admin.urls"


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    """A fresh local-memory cache per test, so throttle counters never leak between tests.

    Never ``cache.clear()`` here: on Redis that is FLUSHDB and would wipe everyone's keys.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"accounts-test-{request.node.nodeid}"}}
