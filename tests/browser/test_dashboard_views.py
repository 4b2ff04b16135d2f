"""The dashboard's Django views (/app/): sign-in redirect, the shell, the service worker, the manifest.

No browser needed; these live next to the dashboard's browser tests because they share its build.
"""
from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders

from support.models import User
from tests.browser.dashboard_helpers import ensure_dashboard_built


@pytest.fixture(autouse=True)
def built() -> None:
    ensure_dashboard_built()


def test_signed_out_visitors_are_sent_to_the_login_page(client, db) -> None:
    for path in ("/app/", "/app/stats", "/app/c/cv_abc"):
        res = client.get(path)
        assert res.status_code == 302
        assert res["Location"].startswith("/accounts/login/?next=/app/")


def test_members_get_the_shell_for_every_route(client, world) -> None:
    client.force_login(world.agent.user)
    for path in ("/app/", "/app/stats", "/app/c/cv_abc123"):
        res = client.get(path)
        assert res.status_code == 200, path
        html = res.content.decode()
        assert '<link rel="manifest" href="/app/manifest.webmanifest">' in html
        assert '<script type="module" src="/static/dist/dashboard/assets/dashboard-' in html
        assert "no-cache" in res["Cache-Control"]
        assert "csrftoken" in res.cookies
    config = json.loads(html.split('id="dashboard-config" type="application/json">')[1].split("</script>")[0])
    assert config["attachments"]["maxBytes"] > 0 and "image/png" in config["attachments"]["contentTypes"]
    # The shell is the same for everyone (the service worker caches it): no user data in it.
    assert world.agent.user.email not in html and "Alice" not in html
    assert client.get("/app/nope").status_code == 404


def test_a_user_without_a_workspace_is_told_so(client, db) -> None:
    user = User.objects.create_user("loner@example.com", "pw-Secret-123")
    client.force_login(user)
    res = client.get("/app/")
    assert res.status_code == 403
    assert b"not part of a workspace" in res.content


def test_service_worker_is_served_for_the_app_scope_with_its_precache_list(client, db) -> None:
    res = client.get("/app/sw.js")
    assert res.status_code == 200
    assert res["Content-Type"].startswith("application/javascript")
    assert res["Service-Worker-Allowed"] == "/app/"
    assert "no-cache" in res["Cache-Control"]
    body = res.content.decode()
    first_line = body.splitlines()[0]
    assert first_line.startswith("self.__SB_SHELL__ = ")
    shell = json.loads(first_line.removeprefix("self.__SB_SHELL__ = ").rstrip(";"))
    assert "/app/" in shell["urls"] and any(u.endswith(".js") and "/dashboard-" in u for u in shell["urls"])
    assert "sourceMappingURL" not in body
    assert "addEventListener(`push`" in body or 'addEventListener("push"' in body


def test_manifest_makes_the_dashboard_installable(client, db) -> None:
    res = client.get("/app/manifest.webmanifest")
    assert res.status_code == 200
    assert res["Content-Type"] == "application/manifest+json"
    manifest = res.json()
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/app/"
    assert manifest["display"] == "standalone" and manifest["theme_color"].startswith("#")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert finders.find(icon["src"].removeprefix("/static/")), icon["src"]
