"""One visitor check for every visitor endpoint (support.services.visitors.authenticate_visitor):
the socket, long-poll, uploads, downloads and MQTT credentials refuse a bad token, a foreign page
and an unverified visitor alike; only the Origin rule differs, by what a client can send."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from support.errors import PermissionDenied
from support.models import Tenant
from support.services.visitors import (
    OriginForbidden,
    OriginRule,
    Unauthenticated,
    authenticate_visitor,
    own_origins,
)
from tests.realtime.conftest import SITE, new_visitor_token, open_visitor, visitor_token

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = "https://evil.example"
OWN = {"http://testserver"}


def test_the_origin_rule_decides_when_the_page_is_checked(world):
    token = new_visitor_token(world.tenant)
    for rule in OriginRule:
        assert authenticate_visitor(token=token, origin=SITE, own_origins=OWN, origin_rule=rule).tenant == world.tenant
    with pytest.raises(OriginForbidden):
        authenticate_visitor(token=token, origin=None, own_origins=OWN)
    with pytest.raises(OriginForbidden):
        authenticate_visitor(token=token, origin=EVIL, own_origins=OWN, origin_rule=OriginRule.IF_SENT)
    assert authenticate_visitor(token=token, origin=None, own_origins=OWN, origin_rule=OriginRule.IF_SENT)
    assert authenticate_visitor(token=token, origin=EVIL, own_origins=OWN, origin_rule=OriginRule.NOT_CHECKED)
    assert authenticate_visitor(token=token, origin="http://testserver", own_origins=OWN)  # our own page


def test_every_rule_refuses_a_bad_token_and_an_unverified_visitor(world):
    token = new_visitor_token(world.tenant)
    for rule in OriginRule:
        for bad in (None, "", "forged", token + "x", 42):
            with pytest.raises(Unauthenticated):
                authenticate_visitor(token=bad, origin=SITE, own_origins=OWN, origin_rule=rule)
    Tenant.objects.filter(pk=world.tenant.pk).update(identity_verification=Tenant.Verification.REQUIRED)
    for rule in OriginRule:
        with pytest.raises(PermissionDenied) as refused:
            authenticate_visitor(token=token, origin=SITE, own_origins=OWN, origin_rule=rule)
        assert refused.value.code == "verification_required"


def test_own_origins_are_the_site_and_the_host_asked(settings):
    settings.SITE_URL = "https://chat.example"
    assert own_origins(scheme="https", host="node1.chat.example") == {"https://chat.example", "https://node1.chat.example"}
    assert own_origins(scheme="http", host=None) == {"https://chat.example"}


async def _answers(http, token, origin):
    """(status, code) of each visitor HTTP endpoint for this token, sent from ``origin`` (None: no header)."""
    headers = {"Origin": origin} if origin else {}
    upload = await http.post("/rt/visitor/upload", data={"token": token}, headers=headers)
    download = await http.get("/rt/visitor/attachments/at_unknown", headers={**headers, "X-Visitor-Token": token})
    mqtt = await http.post("/rt/mqtt/visitor/credentials", json={"token": token}, headers=headers)
    poll = await http.post("/rt/visitor/poll", json={"token": token, "cursor": None}, headers=headers)
    return {name: (r.status_code, r.json()["error"]["code"])
            for name, r in {"upload": upload, "download": download, "mqtt": mqtt, "poll": poll}.items()}


async def test_every_visitor_endpoint_refuses_alike(world, http, settings):
    settings.MQTT_URL = ""  # past the check, credentials answer 503: MQTT is off
    token = await visitor_token(world.tenant)
    unauthenticated = (401, "unauthenticated")
    forbidden = (403, "origin_forbidden")
    assert await _answers(http, "forged", SITE) == {
        "upload": unauthenticated, "download": unauthenticated, "mqtt": unauthenticated, "poll": unauthenticated}
    assert await _answers(http, token, EVIL) == {
        "upload": forbidden, "download": (404, "not_found"), "mqtt": forbidden, "poll": forbidden}
    assert await _answers(http, token, None) == {
        "upload": forbidden, "download": (404, "not_found"), "mqtt": (503, "unavailable"), "poll": forbidden}
    past_the_check = await http.post("/rt/visitor/upload", data={"token": token}, headers={"Origin": SITE})
    assert (past_the_check.status_code, past_the_check.json()["error"]["code"]) == (400, "missing_field")

    await sync_to_async(Tenant.objects.filter(pk=world.tenant.pk).update)(
        identity_verification=Tenant.Verification.REQUIRED)
    unverified = (403, "verification_required")
    assert await _answers(http, token, SITE) == {
        "upload": unverified, "download": unverified, "mqtt": unverified, "poll": unverified}
    sock = await open_visitor(token)
    assert (await sock.recv())["code"] == "verification_required"
    assert await sock.closed_code() == 4401


async def test_the_socket_refuses_a_foreign_page_and_a_bad_token(world):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token, origin=EVIL)
    assert (await sock.recv())["code"] == "origin_forbidden"
    assert await sock.closed_code() == 4403
    sock = await open_visitor("forged")
    assert (await sock.recv())["code"] == "unauthenticated"
    assert await sock.closed_code() == 4401
