"""Widget bootstrap (Origin, identity verification, renewed tokens, limits) and visitor file transfer."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from support.models import Conversation, Tenant
from support.services.visitors import identity_hash
from tests.realtime.conftest import SITE, in_tenant, open_visitor, visitor_token
from tests.realtime.test_longpoll import start, vpost

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def boot(http, tenant, *, origin=SITE, **body):
    response = await http.post("/rt/widget/bootstrap", json={"widget_key": tenant.widget_key, **body},
                               headers={"Origin": origin})
    return response.status_code, response.json()


def identity(tenant, user_id, **extra):
    return {"user_id": user_id, "hash": identity_hash(tenant, user_id), **extra}


async def set_verification(tenant, mode):
    tenant.identity_verification = mode
    await sync_to_async(tenant.save)(update_fields=["identity_verification"])


async def test_bootstrap_answers_settings_and_a_token_that_keeps_the_contact(world, http):
    status, first = await boot(http, world.tenant, context={"page": "https://site.example/pricing", "x": "dropped"})
    assert status == 200
    assert first["settings"]["greeting"] == world.tenant.greeting
    # The default greeting in each visitor language (Tenant.greeting_for; tests/i18n).
    assert first["settings"]["greetings"] == {"en": world.tenant.greeting, "zh-Hans": "您好！有什么可以帮您的吗？"}
    assert first["team_online"] is False and first["agents"] == [] and first["open_now"] is True
    assert first["contact"]["verified"] is False and first["conversations"] == []
    status, second = await boot(http, world.tenant, visitor_token=first["visitor_token"])
    # Every bootstrap renews the token (tests/realtime/test_visitor_token_expiry.py); the contact stays.
    assert second["contact"]["id"] == first["contact"]["id"]
    status, third = await boot(http, world.tenant, visitor_token=second["visitor_token"])
    assert third["contact"]["id"] == first["contact"]["id"]


async def test_bootstrap_lists_the_visitors_conversations(world, http):
    token, conv_id = await start(http, world)
    status, data = await boot(http, world.tenant, visitor_token=token)
    assert [c["id"] for c in data["conversations"]] == [conv_id]
    assert data["conversations"][0]["last_seq"] == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"origin": "https://evil.example"}, 403, "origin_forbidden"),
        ({"origin": "null"}, 403, "origin_forbidden"),
        ({"widget_key": "wk_nope"}, 404, "not_found"),
        ({"widget_key": 7}, 404, "not_found"),
    ],
)
async def test_bootstrap_refusals(world, http, kwargs, status, code):
    origin = kwargs.pop("origin", SITE)
    body = {"widget_key": world.tenant.widget_key, **kwargs}
    response = await http.post("/rt/widget/bootstrap", json=body, headers={"Origin": origin})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_bootstrap_rate_limit_per_ip(world, http, settings):
    settings.RT_IP_BOOTSTRAPS_PER_MINUTE = 2
    assert (await boot(http, world.tenant))[0] == 200
    assert (await boot(http, world.tenant))[0] == 200
    status, data = await boot(http, world.tenant)
    assert (status, data["error"]["code"]) == (429, "rate_limited")


async def test_valid_identity_links_the_same_contact_on_every_device(world, http):
    status, first = await boot(http, world.tenant, identity=identity(world.tenant, "user-42", name="Ada"))
    assert status == 200 and first["contact"]["verified"] is True and first["contact"]["name"] == "Ada"
    status, other_device = await boot(http, world.tenant, identity=identity(world.tenant, "user-42"))
    assert other_device["contact"]["id"] == first["contact"]["id"]


async def test_identity_merges_the_anonymous_visitors_conversations(world, http):
    token, conv_id = await start(http, world)  # chatted anonymously first
    status, known = await boot(http, world.tenant, identity=identity(world.tenant, "user-7"))
    status, merged = await boot(http, world.tenant, visitor_token=token, identity=identity(world.tenant, "user-7"))
    assert merged["contact"]["id"] == known["contact"]["id"]
    assert [c["id"] for c in merged["conversations"]] == [conv_id]


async def test_invalid_identity_is_refused(world, outsider, http):
    forged = {"user_id": "user-1", "hash": identity_hash(outsider.tenant, "user-1")}  # another tenant's secret
    bad_ones = (forged, {"user_id": "user-1", "hash": "00"}, {"user_id": "user-1"}, "user-1",
                {"user_id": "", "hash": ""})
    for bad in bad_ones:
        status, data = await boot(http, world.tenant, identity=bad)
        assert (status, data["error"]["code"]) == (403, "identity_invalid")


async def test_a_verified_token_is_not_reused_without_identity(world, http):
    status, signed_in = await boot(http, world.tenant, identity=identity(world.tenant, "user-9"))
    status, signed_out = await boot(http, world.tenant, visitor_token=signed_in["visitor_token"])
    assert signed_out["contact"]["id"] != signed_in["contact"]["id"]
    assert signed_out["contact"]["verified"] is False


async def test_required_verification_keeps_unverified_visitors_out(world, http):
    anonymous = await visitor_token(world.tenant)
    await set_verification(world.tenant, Tenant.Verification.REQUIRED)
    status, data = await boot(http, world.tenant)
    assert (status, data["error"]["code"]) == (403, "verification_required")
    status, data = await vpost(http, "poll", {"token": anonymous, "cursor": None})
    assert (status, data["error"]["code"]) == (403, "verification_required")
    sock = await open_visitor(anonymous)
    assert (await sock.recv())["code"] == "verification_required"
    assert await sock.closed_code() == 4401
    status, data = await boot(http, world.tenant, identity=identity(world.tenant, "user-3"))
    assert status == 200
    verified = data["visitor_token"]
    status, sent = await vpost(http, "send", {"token": verified, "frames": [
        {"type": "send", "conversation": None, "client_id": "c", "body": "hi"}]})
    assert sent["frames"][0]["type"] == "ack"


async def test_upload_send_and_download_an_attachment(world, http, tmp_path):
    with override_settings(MEDIA_ROOT=tmp_path):
        token, conv_id = await start(http, world)
        response = await http.post("/rt/visitor/upload", data={"token": token}, files={"file": ("shot.png", PNG)},
                                   headers={"Origin": SITE})
        assert response.status_code == 201, response.text
        attachment = response.json()["attachment"]
        assert attachment["content_type"] == "image/png"
        status, data = await vpost(http, "send", {"token": token, "frames": [
            {"type": "send", "conversation": conv_id, "client_id": "f", "attachment": attachment["id"]}]})
        message = data["frames"][0]["message"]
        assert message["kind"] == "attachment" and message["attachment"]["id"] == attachment["id"]
        # An attachment id works once.
        status, data = await vpost(http, "send", {"token": token, "frames": [
            {"type": "send", "conversation": conv_id, "client_id": "g", "attachment": attachment["id"]}]})
        assert data["frames"][0]["code"] == "not_found"

        got = await http.get(f"/rt/visitor/attachments/{attachment['id']}", headers={"X-Visitor-Token": token})
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["x-content-type-options"] == "nosniff"
        stranger = await visitor_token(world.tenant)
        denied = await http.get(f"/rt/visitor/attachments/{attachment['id']}?token={stranger}")
        assert denied.status_code == 404
        anonymous = await http.get(f"/rt/visitor/attachments/{attachment['id']}")
        assert anonymous.status_code == 401


async def test_upload_refusals(world, http, tmp_path, settings):
    with override_settings(MEDIA_ROOT=tmp_path):
        token = await visitor_token(world.tenant)
        html = await http.post("/rt/visitor/upload", data={"token": token},
                               files={"file": ("x.exe", b"MZ\x90\x00" + b"\x00" * 20)}, headers={"Origin": SITE})
        assert (html.status_code, html.json()["error"]["code"]) == (400, "unsupported_type")
        missing = await http.post("/rt/visitor/upload", data={"token": token}, headers={"Origin": SITE})
        assert missing.json()["error"]["code"] == "missing_field"
        forged = await http.post("/rt/visitor/upload", data={"token": "nope"}, files={"file": ("a.png", PNG)},
                                 headers={"Origin": SITE})
        assert forged.status_code == 401
        evil = await http.post("/rt/visitor/upload", data={"token": token}, files={"file": ("a.png", PNG)},
                               headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403


async def test_merge_moves_only_anonymous_conversations(world, http):
    status, verified = await boot(http, world.tenant, identity=identity(world.tenant, "user-a"))
    token_a = verified["visitor_token"]
    status, sent = await vpost(http, "send", {"token": token_a, "frames": [
        {"type": "send", "conversation": None, "client_id": "a", "body": "mine"}]})
    # Someone else signs in on the same browser: user-a's conversations stay with user-a.
    status, other = await boot(http, world.tenant, visitor_token=token_a, identity=identity(world.tenant, "user-b"))
    assert other["contact"]["id"] != verified["contact"]["id"] and other["conversations"] == []

    def count():
        with in_tenant(world.tenant):
            return Conversation.objects.filter(contact__public_id=verified["contact"]["id"]).count()

    assert await sync_to_async(count)() == 1


async def test_bootstrap_records_the_visitors_browser(world, http):
    response = await http.post(
        "/rt/widget/bootstrap",
        json={"widget_key": world.tenant.widget_key, "context": {"page": "https://site.example/", "user_agent": "lie"}},
        headers={"Origin": SITE, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"},
    )
    assert response.status_code == 200

    def stored():
        from support.models import Contact

        with in_tenant(world.tenant):
            return Contact.objects.get(public_id=response.json()["contact"]["id"]).context

    context = await sync_to_async(stored)()
    assert context["user_agent"].startswith("Mozilla/5.0") and context["page"] == "https://site.example/"
