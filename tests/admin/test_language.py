"""The tenant admin in the reader's language: model and field names are translated (docs/i18n.md)."""
from __future__ import annotations

from support.models import CannedResponse, Conversation
from tests.admin.helpers import admin_url, make_object


def test_a_chinese_owner_reads_model_and_field_names_in_chinese(client, world):
    world.owner.user.language = "zh-hans"
    world.owner.user.save(update_fields=["language"])
    client.force_login(world.owner.user)
    index = client.get("/admin/").content.decode()
    for name in ("会话", "联系人", "快捷回复", "团队", "标签", "客服", "邀请", "工作区设置", "API 令牌", "客服支持"):
        assert f">{name}<" in index, name
    assert ">Conversations<" not in index and ">Canned responses<" not in index and ">Agents<" not in index
    change_list = client.get("/admin/support/label/").content.decode()
    assert "选择 标签 来修改" in change_list
    make_object(Conversation, world)
    conversations = client.get("/admin/support/conversation/").content.decode()
    assert "将所选会话标记为已解决" in conversations and "重新打开所选会话" in conversations  # admin actions
    form = client.get(admin_url(world.team, "change")).content.decode()
    assert ">名称:<" in form and ">成员:<" in form
    canned = client.get(admin_url(make_object(CannedResponse, world), "change")).content.decode()
    assert ">快捷码:<" in canned and "在输入框中输入 /快捷码 使用" in canned  # field name and help text


def test_an_english_owner_keeps_the_english_names(client, world):
    client.force_login(world.owner.user)
    index = client.get("/admin/", headers={"Accept-Language": "en"}).content.decode()
    assert ">Conversations<" in index and ">Canned responses<" in index
    form = client.get(admin_url(world.team, "change"), headers={"Accept-Language": "en"}).content.decode()
    assert ">Name:<" in form
