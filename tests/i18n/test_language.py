"""Which language pages, the dashboard and the widget's greeting are in: the user's choice, then the browser."""
from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import AsyncClient, Client
from django_scopes import scopes_disabled

from support.models import DEFAULT_GREETING, Tenant, User
from support.services import accounts

pytestmark = pytest.mark.django_db


def dashboard_config(client) -> dict:
    html = client.get("/app/").content.decode()
    start = html.index('<script id="dashboard-config" type="application/json">') + len(
        '<script id="dashboard-config" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_the_browser_decides_until_the_user_chooses(client, world):
    client.force_login(world.agent.user)
    page = client.get("/accounts/workspaces/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert page["Content-Language"] == "zh-hans"
    assert dashboard_config(client)["language"] == ""  # the app follows navigator.languages

    response = client.post("/accounts/language/", {"language": "en", "next": "/app/"},
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302 and response["Location"] == "/app/"
    world.agent.user.refresh_from_db()
    assert world.agent.user.language == "en"
    # The saved choice beats Accept-Language, on pages and in the dashboard's config.
    assert client.get("/accounts/workspaces/", HTTP_ACCEPT_LANGUAGE="zh-CN")["Content-Language"] == "en"
    assert dashboard_config(client)["language"] == "en"

    client.post("/accounts/language/", {"language": "zh-Hans"})
    world.agent.user.refresh_from_db()
    assert world.agent.user.language == "zh-hans"
    assert dashboard_config(client)["language"] == "zh-Hans"
    assert {"code": "zh-Hans", "name": "简体中文"} in dashboard_config(client)["languages"]

    client.post("/accounts/language/", {"language": ""})  # back to the browser's
    world.agent.user.refresh_from_db()
    assert world.agent.user.language == ""
    assert client.get("/accounts/workspaces/", HTTP_ACCEPT_LANGUAGE="zh-TW")["Content-Language"] == "zh-hans"


def test_the_choice_survives_sign_out_in_the_cookie(client, world):
    client.force_login(world.agent.user)
    response = client.post("/accounts/language/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert response["Location"] == "/"  # never an open redirect
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    client.post("/accounts/logout/")  # the real sign-out (the test client's logout() drops all cookies)
    assert client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "zh-hans"


def test_anonymous_choice_is_a_cookie_and_unknown_languages_are_refused(client, world):
    response = client.post("/accounts/language/", {"language": "zh-Hans"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert client.post("/accounts/language/", {"language": "tlh"}).status_code == 400
    assert client.get("/accounts/language/").status_code == 405


def test_a_signed_in_users_choice_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.agent.user)
    assert client.post("/accounts/language/", {"language": "zh-hans"}).status_code == 403
    world.agent.user.refresh_from_db()
    assert world.agent.user.language == ""
    # Anonymous, only the cookie changes: allowed without a token, so anonymous pages carry none.
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/accounts/language/", {"language": "zh-hans"}).status_code == 302
    page = anonymous.get("/accounts/login/").content.decode()
    switch = page[page.index('<form class="lang-switch"'):]
    assert "csrfmiddlewaretoken" not in switch[:switch.index("</form>")]


def test_the_service_refuses_unknown_languages(world):
    with pytest.raises(accounts.ValidationFailed):
        accounts.set_user_language(user=world.agent.user, language="fr")
    assert User.objects.get(pk=world.agent.user.pk).language == ""


@pytest.mark.django_db(transaction=True)
async def test_the_users_language_holds_on_the_async_request_path(world):
    # Under uvicorn the middleware chain runs async; the choice is applied in the scope's thread hop.
    await sync_to_async(accounts.set_user_language)(user=world.agent.user, language="zh-hans")
    client = AsyncClient()
    await sync_to_async(client.force_login)(world.agent.user)
    response = await client.get("/accounts/workspaces/", headers={"Accept-Language": "en"})
    assert response["Content-Language"] == "zh-hans"


def test_widget_greeting_per_language(world):
    with scopes_disabled():
        tenant = Tenant.objects.get(pk=world.tenant.pk)
    assert tenant.greeting == DEFAULT_GREETING
    # The untouched default greets each visitor in their language.
    assert tenant.greeting_for("zh-hans") == "您好！有什么可以帮您的吗？"
    assert tenant.greeting_for("en") == DEFAULT_GREETING
    tenant.greeting = "Welcome to Acme!"
    assert tenant.greeting_for("zh-hans") == "Welcome to Acme!"  # no Chinese one written: the tenant's own
    tenant.greetings = {"zh-hans": "欢迎来到 Acme！", "en": "  "}
    assert tenant.greeting_for("zh-hans") == "欢迎来到 Acme！"
    assert tenant.greeting_for("en") == "Welcome to Acme!"


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/accounts/login/", 200, ["<title>登录 · Switchboard</title>", "欢迎回来。", "忘记密码？", "邮箱"]),
    ("/accounts/signup/", 200, ["开始使用 Switchboard", "继续"]),
    ("/accounts/password/reset/", 200, ["重置密码", "发送重置链接"]),
    ("/", 200, ["与网站访客实时对话。", "创建工作区"]),
    ("/no-such-page/", 404, ["此页面不存在", "返回首页"]),
])
def test_pages_in_chinese_for_a_chinese_browser(client, db, path, status, words):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")
    html = response.content.decode()
    assert response.status_code == status
    assert '<html lang="zh-Hans">' in html
    for word in words:
        assert word in html
    english = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english and words[-1] not in english


def test_refusals_on_account_pages_are_translated(client, world):
    from django.utils import translation

    from support.sign_in_throttle import wait_text
    with translation.override("zh-hans"):
        assert (wait_text(40), wait_text(900)) == ("40 秒", "15 分钟")
        with pytest.raises(accounts.ValidationFailed) as refused:
            accounts.clean_email("x" * 300 + "@example.com")
        assert refused.value.detail == "邮箱地址过长"
    assert wait_text(1) == "1 second"
