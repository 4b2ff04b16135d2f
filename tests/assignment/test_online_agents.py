"""support.online_agents asks (who is online, every agent's presence), push's presence answers;
with nothing plugged in, asking is a configuration error rather than a silent "nobody is online"
(which would queue every chat)."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from support import online_agents


def test_the_answer_is_push_presence(world, online):
    assert online_agents.online_agent_ids(world.tenant.pk) == set()
    online(world.agent)
    assert online_agents.online_agent_ids(world.tenant.pk) == {world.agent.pk}


def test_asking_with_nothing_plugged_in_is_a_configuration_error(world, monkeypatch):
    monkeypatch.setattr(online_agents, "_answer", None)
    with pytest.raises(ImproperlyConfigured, match="Nobody answers who is online"):
        online_agents.online_agent_ids(world.tenant.pk)


def test_the_agents_presence_is_push_presence(world, online):
    statuses = {row["id"]: row["status"] for row in online_agents.agents_presence(world.tenant.pk)}
    assert statuses[world.agent.public_id] == "offline"
    online(world.agent)
    rows = online_agents.agents_presence(world.tenant.pk)
    assert {"id": world.agent.public_id, "name": world.agent.user.name, "status": "online"} in rows


def test_asking_for_the_agents_presence_with_nothing_plugged_in_is_a_configuration_error(world, monkeypatch):
    monkeypatch.setattr(online_agents, "_presence", None)
    with pytest.raises(ImproperlyConfigured, match="Nobody answers who is online"):
        online_agents.agents_presence(world.tenant.pk)
