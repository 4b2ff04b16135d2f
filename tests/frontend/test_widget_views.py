"""The widget's HTTP endpoints: /widget.js, the iframe page (framing rules), the demo page, and the
visitor's profile and rating endpoints (auth, origin, validation, isolation)."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from support.models import Contact, Conversation, Tenant
from support.services.conversations import set_status, start_conversation
from support.services.visitors import bootstrap_visitor, identity_hash

ORIGIN = "https://site.example"  # in the fixture tenants' allowed origins


def post(client: Client, url: str, body: dict, origin: str = ORIGIN):
    return client.post(url, data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin)


@pytest.fixture
def visitor(world):
    return bootstrap_visitor(tenant=world.tenant)


def test_widget_js_is_the_built_loader_with_a_short_cache(client, monkeypatch, tmp_path):
    built = tmp_path / "loader.js"
    built.write_text("(()=>{window.Switchboard=1})();")
    monkeypatch.setattr("frontend.views.finders.find", lambda name: str(built))
    res = client.get("/widget.js")
    assert res.status_code == 200
    assert res["Content-Type"].startswith("application/javascript")
    assert res["Cache-Control"] == "public, max-age=300"
    assert res.content == built.read_bytes()


def test_widget_js_missing_build_is_a_clear_404(client, monkeypatch):
    monkeypatch.setattr("frontend.views.finders.find", lambda name: None)
    monkeypatch.setattr("frontend.views.staticfiles_storage.open", lambda name: (_ for _ in ()).throw(OSError()))
    assert client.get("/widget.js").status_code == 404


def test_frame_may_only_be_embedded_by_allowed_origins(client, world):
    res = client.get("/widget/frame/", {"key": world.tenant.widget_key, "origin": ORIGIN})
    assert res.status_code == 200
    csp = res["Content-Security-Policy"]
    assert "frame-ancestors 'self' http://127.0.0.1:8000 https://site.example;" in csp
    assert "script-src 'self'" in csp
    assert "X-Frame-Options" not in res
    assert b"dist/widget/widget.js" in res.content


def test_frame_with_unknown_key_is_404(client, db):
    assert client.get("/widget/frame/", {"key": "wk_nope"}).status_code == 404


def test_demo_page_embeds_the_demo_tenant(client, db):
    with scopes_disabled():
        tenant = Tenant.objects.create(name="Demo", slug="demo")
    res = client.get("/demo/")
    assert res.status_code == 200
    assert f'data-key="{tenant.widget_key}"'.encode() in res.content
    assert b"/widget.js" in res.content
    assert b"data-key" not in client.get("/demo/?widget=0").content.split(b"</pre>")[-1]


def test_demo_page_without_demo_tenant_says_how_to_make_one(client, db):
    res = client.get("/demo/")
    assert res.status_code == 200
    assert b"seed_demo" in res.content


def test_profile_sets_name_email_and_attributes(client, world, visitor):
    res = post(client, "/widget/profile", {"token": visitor.token, "name": "Ada", "email": "ADA@example.com",
                                           "attributes": {"plan": "pro"}})
    assert res.status_code == 200, res.content
    assert res.json()["contact"] == {"id": visitor.contact.public_id, "name": "Ada", "email": "ada@example.com"}
    with scope(tenant=world.tenant):
        contact = Contact.objects.get(pk=visitor.contact.pk)
    assert (contact.name, contact.email, contact.attributes) == ("Ada", "ada@example.com", {"plan": "pro"})


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "not-an-email"}, 400, "invalid_email"),
        ({"name": ["x"]}, 400, "invalid_field"),
        ({"name": "x" * 121}, 400, "invalid_name"),
        ({"attributes": "plan"}, 400, "invalid_attributes"),
    ],
)
def test_profile_rejects_bad_input(client, visitor, body, status, code):
    res = post(client, "/widget/profile", {"token": visitor.token, **body})
    assert res.status_code == status
    assert res.json()["error"]["code"] == code


def test_profile_needs_a_valid_token_and_an_allowed_origin(client, visitor):
    assert post(client, "/widget/profile", {"name": "x"}).status_code == 401
    assert post(client, "/widget/profile", {"token": visitor.token + "x", "name": "x"}).status_code == 401
    res = post(client, "/widget/profile", {"token": visitor.token, "name": "x"}, origin="https://evil.example")
    assert (res.status_code, res.json()["error"]["code"]) == (403, "origin_forbidden")
    res = client.post("/widget/profile", data="{nope", content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert (res.status_code, res.json()["error"]["code"]) == (400, "bad_json")


def test_profile_does_not_override_a_verified_identity(client, world):
    identity = {"user_id": "u-1", "hash": identity_hash(world.tenant, "u-1"), "name": "Real Name",
                "email": "real@example.com"}
    session = bootstrap_visitor(tenant=world.tenant, identity=identity)
    res = post(client, "/widget/profile", {"token": session.token, "name": "Impostor", "email": "x@evil.example"})
    assert res.status_code == 200
    assert res.json()["contact"]["name"] == "Real Name"
    assert res.json()["contact"]["email"] == "real@example.com"


def _conversation(world, contact, *, resolved: bool) -> Conversation:
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=contact)
        if resolved:
            conv = set_status(conversation=conv, status=Conversation.Status.RESOLVED)
    return conv


def test_rating_a_resolved_conversation(client, world, visitor):
    conv = _conversation(world, visitor.contact, resolved=True)
    res = post(client, "/widget/rate", {"token": visitor.token, "conversation": conv.public_id, "rating": 5,
                                        "comment": "  <b>great</b>  "})
    assert res.status_code == 200, res.content
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
    assert (conv.rating, conv.rating_comment) == (5, "<b>great</b>")
    # Rating again replaces the earlier rating.
    assert post(client, "/widget/rate", {"token": visitor.token, "conversation": conv.public_id,
                                         "rating": 2}).status_code == 200
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
    assert (conv.rating, conv.rating_comment) == (2, "")


@pytest.mark.parametrize(("rating", "code"), [(0, "invalid_rating"), (6, "invalid_rating"), ("5", "invalid_rating"),
                                              (True, "invalid_rating"), (4.5, "invalid_rating")])
def test_rating_must_be_1_to_5(client, world, visitor, rating, code):
    conv = _conversation(world, visitor.contact, resolved=True)
    res = post(client, "/widget/rate", {"token": visitor.token, "conversation": conv.public_id, "rating": rating})
    assert (res.status_code, res.json()["error"]["code"]) == (400, code)


def test_rating_an_open_conversation_is_refused(client, world, visitor):
    conv = _conversation(world, visitor.contact, resolved=False)
    res = post(client, "/widget/rate", {"token": visitor.token, "conversation": conv.public_id, "rating": 4})
    assert (res.status_code, res.json()["error"]["code"]) == (400, "not_resolved")


def test_rating_someone_elses_conversation_is_not_found(client, world, outsider, visitor):
    other_visitor = _conversation(world, world.contact, resolved=True)
    foreign = _conversation(outsider, outsider.contact, resolved=True)
    for conv in (other_visitor, foreign):
        res = post(client, "/widget/rate", {"token": visitor.token, "conversation": conv.public_id, "rating": 4})
        assert (res.status_code, res.json()["error"]["code"]) == (404, "not_found")
    with scopes_disabled():
        assert Conversation.objects.filter(rating__isnull=False).count() == 0


@pytest.mark.parametrize("body", ["[" * 5_000, '{"token": "t", "rating": NaN}', '{"token": "t", "n": 1e999}'])
def test_hostile_json_is_bad_json_not_a_500(client, body):
    """The realtime parser's bounds (docs/protocol.md, "Validation"): depth, non-finite numbers."""
    res = client.post("/widget/profile", data=body, content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert (res.status_code, res.json()["error"]["code"]) == (400, "bad_json")
