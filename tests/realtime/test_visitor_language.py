"""A visitor reads the refusals of the widget's protocol in the widget's language; codes never change."""
from __future__ import annotations

import asyncio
import json

import pytest
from django.test import Client
from django_scopes import scope

from support.models import Conversation
from support.services.conversations import start_conversation
from support.services.visitors import bootstrap_visitor
from tests.realtime.conftest import contact_of, open_visitor, visitor_token

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://site.example"  # in the fixture tenants' allowed origins


async def chatting(world, language: str):
    """A visitor socket whose widget reported ``language``, with one conversation; (socket, conversation id)."""
    token = await visitor_token(world.tenant, context={"language": language})
    sock = await open_visitor(token)
    await sock.recv_type("welcome")
    await sock.send({"type": "send", "conversation": None, "client_id": "c-1", "body": "hello"})
    return sock, (await sock.recv_type("ack"))["message"]["conversation"]


async def refusals(sock, conversation: str) -> list[tuple[str, str]]:
    frames = [
        {"type": "send", "conversation": conversation, "client_id": "c-2", "body": "  "},
        {"type": "send", "conversation": conversation, "client_id": "c-3", "body": "x" * 10_001},
        {"type": "send", "conversation": "cv_nope", "client_id": "c-4", "body": "hi"},
        {"type": "send", "conversation": conversation, "client_id": "c-5", "body": "n", "kind": "note"},
    ]
    out = []
    for frame in frames:
        await sock.send(frame)
        error = await sock.recv_type("error")
        out.append((error["code"], error["detail"]))
    return out


async def test_send_refusals_in_the_widgets_language(world, settings):
    settings.MESSAGE_MAX_CHARS = 10_000
    chinese, chinese_conv = await chatting(world, "zh-Hans")
    english, english_conv = await chatting(world, "en")
    assert await refusals(chinese, chinese_conv) == [
        ("empty", "消息为空"), ("too_long", "消息超过 10000 个字符"), ("not_found", "没有这个会话"),
        ("forbidden", "只有客服可以写内部备注")]
    assert await refusals(english, english_conv) == [
        ("empty", "Message is empty"), ("too_long", "Message is longer than 10000 characters"),
        ("not_found", "No such conversation"), ("forbidden", "Only agents can write internal notes")]
    await chinese.close()
    await english.close()


async def test_a_resume_of_an_unknown_conversation_in_the_widgets_language(world):
    token = await visitor_token(world.tenant, context={"language": "zh-Hans"})
    sock = await open_visitor(token, resume={"cv_nope": 0})
    frames = [await sock.recv(), await sock.recv()]
    assert {"type": "error", "code": "not_found", "detail": "没有这个会话", "ref": "hello"} in frames
    await sock.close()


async def test_simultaneous_sends_in_two_languages_each_get_their_own(world):
    """A Chinese and an English refusal written together (tests/realtime/test_group_commit.py has them in one batch)."""
    chinese, chinese_conv = await chatting(world, "zh-Hans")
    english, english_conv = await chatting(world, "en")
    for _ in range(5):
        await asyncio.gather(
            chinese.send({"type": "send", "conversation": chinese_conv, "client_id": "c-2", "body": " "}),
            english.send({"type": "send", "conversation": english_conv, "client_id": "c-2", "body": " "}),
        )
        assert (await chinese.recv_type("error"))["detail"] == "消息为空"
        assert (await english.recv_type("error"))["detail"] == "Message is empty"
    await chinese.close()
    await english.close()


async def test_a_refused_origin_in_the_widgets_language(world):
    token = await visitor_token(world.tenant, context={"language": "zh-Hans"})
    sock = await open_visitor(token, origin="https://evil.example")
    error = await sock.recv()
    assert (error["code"], error["detail"]) == ("origin_forbidden", "此网站不允许使用聊天插件")
    assert await sock.closed_code() == 4403


def _post(client: Client, url: str, body: dict, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=SITE, **headers)


def test_widget_http_refusals_in_the_widgets_language(client, world):
    token = _token(world, "zh-Hans")
    contact = contact_of(token)
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=contact)
    assert conv.status != Conversation.Status.RESOLVED
    # The browser says English; the widget said Chinese (its data-lang): the widget wins.
    res = _post(client, "/widget/rate", {"token": token, "conversation": conv.public_id, "rating": 4},
                HTTP_ACCEPT_LANGUAGE="en")
    assert (res.status_code, res.json()["error"]) == (400, {"code": "not_resolved", "detail": "只能评价已解决的会话"})
    res = _post(client, "/widget/rate", {"token": token, "conversation": conv.public_id, "rating": 9})
    assert res.json()["error"] == {"code": "invalid_rating", "detail": "评分必须是 1 到 5 的整数"}
    english = _token(world, "en")
    with scope(tenant=world.tenant):
        theirs = start_conversation(tenant=world.tenant, contact=contact_of(english))
    res = _post(client, "/widget/rate", {"token": english, "conversation": theirs.public_id, "rating": 9},
                HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert res.json()["error"] == {"code": "invalid_rating", "detail": "rating must be a whole number from 1 to 5"}


def test_bootstrap_refusals_in_the_language_the_widget_sends(client, world):
    world.tenant.identity_verification = "required"
    world.tenant.save(update_fields=["identity_verification"])
    body = {"widget_key": world.tenant.widget_key, "context": {"language": "zh-Hans"}}
    res = _post(client, "/rt/widget/bootstrap", body, HTTP_ACCEPT_LANGUAGE="en")
    assert (res.status_code, res.json()["error"]) == (
        403, {"code": "verification_required", "detail": "此网站要求访客先登录"})
    res = _post(client, "/rt/widget/bootstrap", {**body, "identity": {"user_id": "u-1", "hash": "0" * 64}})
    assert res.json()["error"] == {"code": "identity_invalid", "detail": "身份哈希不匹配"}
    # Without a language from the widget: the browser's.
    res = _post(client, "/rt/widget/bootstrap", {"widget_key": world.tenant.widget_key}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert res.json()["error"]["detail"] == "此网站要求访客先登录"
    res = _post(client, "/rt/widget/bootstrap", {"widget_key": world.tenant.widget_key}, HTTP_ACCEPT_LANGUAGE="en")
    assert res.json()["error"]["detail"] == "This site requires a signed-in visitor"


def _token(world, language: str) -> str:
    return bootstrap_visitor(tenant=world.tenant, context={"language": language}).token

