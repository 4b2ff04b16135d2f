"""Pages without an icon link (admin, sign-in) make browsers ask for /favicon.ico: it is our icon."""
from __future__ import annotations


def test_favicon_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].startswith("/static/frontend/icons/favicon-32")
