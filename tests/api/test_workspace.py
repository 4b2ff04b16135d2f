"""/api/v1/workspace: owners and admins read and change the workspace's settings (the dashboard's
settings page); agents cannot; hostile and oversized values are refused field by field."""
from __future__ import annotations

import pytest
from django.test import Client

from support.models import Tenant
from tests.api.conftest import session_client

pytestmark = pytest.mark.django_db


def test_owner_reads_and_changes_the_widget_look(world) -> None:
    owner = session_client(world.owner)
    state = owner.get("/api/v1/workspace").json()
    assert state["color"] == "#4f46e5" and state["languages"] == ["en", "zh-Hans"]
    assert state["default_greetings"]["en"] == "Hi! How can we help you today?"
    assert world.tenant.widget_key in state["snippet"]
    answer = owner.patch("/api/v1/workspace", {
        "color": "#0E7490", "position": "left", "greeting": "Hello from Acme",
        "greetings": {"zh-Hans": "您好，这里是 Acme"}, "team_name": "Acme crew", "prechat_form": True,
    })
    assert answer.status_code == 200, answer.content
    assert answer.json()["color"] == "#0e7490" and answer.json()["greetings"] == {"zh-Hans": "您好，这里是 Acme"}
    world.tenant.refresh_from_db()
    assert (world.tenant.color, world.tenant.position, world.tenant.greetings) == (
        "#0e7490", "left", {"zh-hans": "您好，这里是 Acme"})
    # The widget gets the new look (and the greeting per language) at its next bootstrap.
    widget = Client().post("/rt/widget/bootstrap", {"widget_key": world.tenant.widget_key},
                           content_type="application/json", HTTP_ORIGIN="https://site.example")
    assert widget.status_code == 200, widget.content
    settings = widget.json()["settings"]
    assert settings["color"] == "#0e7490" and settings["greetings"]["zh-Hans"] == "您好，这里是 Acme"


def test_business_hours_are_checked_and_kept_sorted(world) -> None:
    owner = session_client(world.owner)
    answer = owner.patch("/api/v1/workspace", {
        "time_zone": "Asia/Shanghai",
        "business_hours": {"tue": [["13:00", "18:00"], ["09:00", "12:00"]], "mon": [["09:00", "17:30"]]},
    })
    assert answer.status_code == 200, answer.content
    assert answer.json()["business_hours"] == {"mon": [["09:00", "17:30"]],
                                               "tue": [["09:00", "12:00"], ["13:00", "18:00"]]}
    for hours, message in [
        ({"mon": [["10:00", "09:00"]]}, "closes before it opens"),
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "overlap"),
        ({"someday": []}, "Unknown day"),
        ({"mon": [["9am", "5pm"]]}, "HH:MM"),
    ]:
        refused = owner.patch("/api/v1/workspace", {"business_hours": hours})
        assert refused.status_code == 400
        assert message in refused.json()["error"]["fields"]["business_hours"][0]
    refused = owner.patch("/api/v1/workspace", {"time_zone": "Mars/Olympus"})
    assert refused.json()["error"]["fields"] == {"time_zone": ["Unknown time zone; use a name like Europe/Paris"]}
    world.tenant.refresh_from_db()
    assert world.tenant.time_zone == "Asia/Shanghai"


def test_hostile_and_oversized_values_are_refused_all_or_nothing(world) -> None:
    owner = session_client(world.owner)
    answer = owner.patch("/api/v1/workspace", {
        "name": "x" * 101, "greeting": "hi\x00there", "color": "red;background:url(x)",
        "allowed_origins": ["javascript:alert(1)"], "position": "middle", "widget_key": "wk_mine",
        "greetings": {"fr": "Bonjour"}, "team_name": "ok",
    })
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert set(fields) == {"name", "greeting", "color", "allowed_origins", "position", "widget_key", "greetings"}
    assert "at most 100 characters" in fields["name"][0]
    world.tenant.refresh_from_db()
    assert world.tenant.team_name != "ok"  # nothing saved


def test_markup_is_kept_as_text(world) -> None:
    owner = session_client(world.owner)
    xss = '<img src=x onerror="alert(1)">'
    assert owner.patch("/api/v1/workspace", {"greeting": xss, "name": f"Acme {xss}"}).status_code == 200
    world.tenant.refresh_from_db()
    assert world.tenant.greeting == xss  # stored as typed; every page shows it as text


def test_allowed_origins_are_normalised(world) -> None:
    owner = session_client(world.owner)
    answer = owner.patch("/api/v1/workspace", {"allowed_origins": ["https://WWW.Site.example/", "http://localhost:3000",
                                                                   "https://www.site.example"]})
    assert answer.json()["allowed_origins"] == ["https://www.site.example", "http://localhost:3000"]
    for bad in ["https://site.example/path", "ftp://site.example", "site.example", "https://u:p@site.example"]:
        assert owner.patch("/api/v1/workspace", {"allowed_origins": [bad]}).status_code == 400, bad


def test_agents_and_read_tokens_cannot_change_settings(world, read_api) -> None:
    agent = session_client(world.agent)
    assert agent.get("/api/v1/workspace").status_code == 403
    assert agent.patch("/api/v1/workspace", {"color": "#000000"}).status_code == 403
    assert read_api.patch("/api/v1/workspace", {"color": "#000000"}).status_code == 403
    world.tenant.refresh_from_db()
    assert world.tenant.color == "#4f46e5"


def test_sessions_need_the_csrf_token(world) -> None:
    owner = session_client(world.owner, csrf=True)
    assert owner.patch("/api/v1/workspace", {"color": "#000000"}).status_code == 403


def test_outsider_changes_only_its_own_workspace(world, outsider) -> None:
    theirs = session_client(outsider.owner)
    state = theirs.get("/api/v1/workspace").json()
    assert state["id"] == outsider.tenant.public_id and world.tenant.widget_key not in state["snippet"]
    assert theirs.patch("/api/v1/workspace", {"color": "#111111"}).status_code == 200
    assert Tenant.objects.get(pk=world.tenant.pk).color == "#4f46e5"
    assert Tenant.objects.get(pk=outsider.tenant.pk).color == "#111111"


def test_a_refused_setting_is_explained_in_the_readers_language(world) -> None:
    owner = session_client(world.owner)
    owner.client.cookies["django_language"] = "zh-hans"  # the language switch's cookie
    refused = owner.patch("/api/v1/workspace", {"time_zone": "Mars/Olympus", "color": "blue", "position": "up"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid"  # machine-readable codes stay as they are
    assert error["fields"]["time_zone"] == ["未知时区；请使用类似 Asia/Shanghai 的名称"]
    assert error["fields"]["color"] == ["请使用类似 #4f46e5 的颜色"]
    assert error["fields"]["position"] == ["位置只能是 right, left 之一"]
    browser = session_client(world.owner).patch("/api/v1/workspace", {"greetings": {"xx": "hi"}},
                                                headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert browser.json()["error"]["fields"]["greetings"] == ["未知语言 'xx'；请使用 zh-Hans"]
    english = session_client(world.owner).patch("/api/v1/workspace", {"color": "blue"},
                                                headers={"Accept-Language": "en"})
    assert english.json()["error"]["fields"]["color"] == ["Use a colour like #4f46e5"]


def test_the_identity_secret_only_for_signed_in_owners_and_admins_who_ask(world, api, outsider) -> None:
    secret = world.tenant.identity_secret
    owner = session_client(world.owner)
    answer = owner.get("/api/v1/workspace/identity-secret")
    assert answer.status_code == 200 and answer.json() == {"identity_secret": secret}
    assert answer["Cache-Control"] == "no-store"
    assert secret not in owner.get("/api/v1/workspace").content.decode()  # not among the settings
    for client in (session_client(world.agent), api):  # agents and tokens: never
        refused = client.get("/api/v1/workspace/identity-secret")
        assert refused.status_code == 403 and secret not in refused.content.decode()
    theirs = session_client(outsider.owner).get("/api/v1/workspace/identity-secret").json()
    assert theirs == {"identity_secret": outsider.tenant.identity_secret}
    # No page carries it: the settings page of an owner, the dashboard of an agent.
    for membership in (world.owner, world.agent):
        client = Client()
        client.force_login(membership.user)
        for path in ("/app/", "/app/settings", "/app/settings/widget"):
            assert secret not in client.get(path).content.decode(), (membership.role, path)
