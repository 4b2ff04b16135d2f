"""Emails are in the recipient's language: an agent's choice (User.language), a visitor's reported language."""
from __future__ import annotations

import pytest
from django_scopes import scope

from support.events.dispatcher import drain
from support.services import accounts
from tests.notify.conftest import html_of, presence_store, smtp, test_push_hosts, text_of  # noqa: F401 - fixtures
from tests.notify.test_agent_alerts import assign, conv  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_who_chose_chinese_gets_the_alert_email_in_chinese(world, conv, smtp):  # noqa: F811
    accounts.set_user_language(user=world.agent.user, language="zh-hans")
    assign(world, conv, world.agent, world.owner)
    [mail] = smtp.messages
    assert mail["Subject"] == "分配给您的会话：Visitor"
    assert "Alice，您好：" in text_of(mail) and "在 Switchboard 中打开：" in text_of(mail)
    assert "在 Switchboard 中打开" in html_of(mail)


def test_other_agents_keep_english(world, conv, smtp):  # noqa: F811
    accounts.set_user_language(user=world.agent2.user, language="zh-hans")  # someone else's choice
    assign(world, conv, world.agent, world.owner)
    [mail] = smtp.messages
    assert mail["Subject"] == "Conversation assigned to you: Visitor"
    assert "Open it in Switchboard" in text_of(mail)


def test_the_language_module_reads_a_visitors_reported_language(world):
    from support.language import contact_language
    with scope(tenant=world.tenant):
        world.contact.context = {"language": "zh-CN"}
        assert contact_language(world.contact) == "zh-hans"
        world.contact.context = {"language": "fr"}
        assert contact_language(world.contact) == "en"
    drain()
