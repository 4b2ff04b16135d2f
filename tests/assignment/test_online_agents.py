"""support.online_agents asks, push's presence answers; with nothing plugged in, asking is a
configuration error rather than a silent "nobody is online" (which would queue every chat)."""
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
