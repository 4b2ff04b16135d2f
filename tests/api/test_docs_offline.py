"""The API docs pages load everything from our own origin: they work without internet access."""
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

_URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|(?:url|import)\s*\(\s*["']?([^"')]+)""")


def _external_refs(html: str) -> list[str]:
    refs = [a or b for a, b in _URL_ATTR.findall(html)]
    return [r for r in refs if re.match(r"^(https?:)?//", r)]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_references_no_external_host(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert _external_refs(html) == []
    # Nothing names a CDN, even in inline script.
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_docs_assets_are_served_locally() -> None:
    html = Client().get("/api/docs/").content.decode()
    scripts = re.findall(r'src="(/static/drf_spectacular_sidecar/[^"]+)"', html)
    assert scripts
    from django.contrib.staticfiles import finders
    for url in scripts:
        assert finders.find(url.removeprefix("/static/")), url
