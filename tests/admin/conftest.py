"""Admin tests run against the admin and account routes only (see tests/admin/urls.py)."""
import pytest


@pytest.fixture(autouse=True)
def _admin_urls(settings):
    settings.ROOT_URLCONF = "tests.admin.urls"
