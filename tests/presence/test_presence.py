"""Presence derived from connections: open/heartbeat/close/expiry, availability, several tabs,
a crashed node fading out, announcements — on the embedded store and on Redis."""
from __future__ import annotations

import pytest
from django_scopes import scope

from push import presence
from support.events.fanout import presence_group
from support.events.models import OutboxEvent

TTL = 75


def open_agent(world, member, conn="c1", transport="ws", **kw):
    presence.connection_opened(
        tenant_id=world.tenant.pk, kind="agent", subject_id=member.pk, connection_id=conn, transport=transport, **kw
    )


def close_agent(world, member, conn="c1", **kw):
    presence.connection_closed(tenant_id=world.tenant.pk, kind="agent", subject_id=member.pk, connection_id=conn, **kw)


def statuses(world):
    return {a["id"]: a["status"] for a in presence.agents_presence(world.tenant.pk)}


def presence_events(world):
    with scope(tenant=world.tenant):
        return [
            (e.payload["agent"]["id"], e.payload["previous"], e.payload["agent"]["status"])
            for e in OutboxEvent.objects.filter(type="agent.presence_changed").order_by("pk")
        ]


def test_nobody_connected_means_everyone_offline(world, clock):
    assert set(statuses(world).values()) == {"offline"}
    assert presence.team_online(world.tenant.pk) is False


def test_opening_a_connection_makes_the_agent_online_and_announces_it(
    world, clock, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        open_agent(world, world.agent)
    assert statuses(world)[world.agent.public_id] == "online"
    assert statuses(world)[world.agent2.public_id] == "offline"
    assert presence.team_online(world.tenant.pk) is True
    assert presence.is_connected(tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk)
    assert published == [(presence_group(world.tenant.pk), {"type": "presence.changed"})]
    assert presence_events(world) == [(world.agent.public_id, "offline", "online")]
    agent = next(a for a in presence.agents_presence(world.tenant.pk) if a["id"] == world.agent.public_id)
    assert agent == {"id": world.agent.public_id, "name": "Alice", "status": "online"}


def test_heartbeats_keep_a_connection_alive_and_silence_expires_it(world, clock):
    open_agent(world, world.agent)
    for _ in range(5):  # 5 × 30 s = 150 s, twice the TTL, kept alive by heartbeats
        clock.advance(30)
        presence.connection_heartbeat(
            tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk, connection_id="c1"
        )
        assert statuses(world)[world.agent.public_id] == "online"
    clock.advance(TTL - 1)
    assert statuses(world)[world.agent.public_id] == "online"
    clock.advance(1)
    # Reads treat an expired connection as gone even before a sweep removes it.
    assert statuses(world)[world.agent.public_id] == "offline"
    assert presence.team_online(world.tenant.pk) is False


def test_closing_the_only_connection_makes_the_agent_offline(
    world, clock, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        open_agent(world, world.agent)
        close_agent(world, world.agent)
    assert statuses(world)[world.agent.public_id] == "offline"
    assert presence_events(world) == [
        (world.agent.public_id, "offline", "online"),
        (world.agent.public_id, "online", "offline"),
    ]
    assert len(published) == 2


def test_an_agent_with_two_tabs_stays_online_until_both_close(world, clock):
    open_agent(world, world.agent, conn="tab1")
    open_agent(world, world.agent, conn="tab2", transport="longpoll")
    close_agent(world, world.agent, conn="tab1")
    assert statuses(world)[world.agent.public_id] == "online"
    assert presence_events(world) == [(world.agent.public_id, "offline", "online")]
    close_agent(world, world.agent, conn="tab2")
    assert statuses(world)[world.agent.public_id] == "offline"
    assert presence_events(world)[-1] == (world.agent.public_id, "online", "offline")


def test_closing_an_unknown_connection_changes_nothing(world, clock):
    open_agent(world, world.agent)
    close_agent(world, world.agent, conn="never-opened")
    assert statuses(world)[world.agent.public_id] == "online"
    assert len(presence_events(world)) == 1


def test_away_agents_are_connected_but_not_online(world, clock, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        open_agent(world, world.agent)
        presence.set_availability(membership=world.agent, status="away")
    assert statuses(world)[world.agent.public_id] == "away"
    assert presence.team_online(world.tenant.pk) is False
    assert presence.is_connected(tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk)
    world.agent.refresh_from_db()
    assert world.agent.availability == "away"
    with django_capture_on_commit_callbacks(execute=True):
        presence.set_availability(membership=world.agent, status="available")
    assert statuses(world)[world.agent.public_id] == "online"
    assert [e[1:] for e in presence_events(world)] == [("offline", "online"), ("online", "away"), ("away", "online")]
    assert len(published) == 3


def test_going_away_while_offline_announces_nothing_and_connecting_then_shows_away(world, clock):
    presence.set_availability(membership=world.agent, status="away")
    assert presence_events(world) == []
    open_agent(world, world.agent)
    assert statuses(world)[world.agent.public_id] == "away"
    assert presence_events(world) == [(world.agent.public_id, "offline", "away")]


def test_bad_availability_kind_and_transport_are_refused(world, clock):
    with pytest.raises(ValueError, match="status"):
        presence.set_availability(membership=world.agent, status="busy")
    with pytest.raises(ValueError, match="kind"):
        presence.connection_opened(
            tenant_id=world.tenant.pk, kind="robot", subject_id=1, connection_id="c", transport="ws"
        )
    with pytest.raises(ValueError, match="transport"):
        open_agent(world, world.agent, transport="carrier-pigeon")
    with pytest.raises(ValueError, match="connection_id"):
        open_agent(world, world.agent, conn="")
    assert statuses(world)[world.agent.public_id] == "offline"


def test_a_crashed_nodes_connections_fade_out_through_the_sweep(
    world, clock, published, django_capture_on_commit_callbacks
):
    # Node A serves alice's two tabs and dies (no close); node B serves bob and keeps heartbeating.
    with django_capture_on_commit_callbacks(execute=True):
        open_agent(world, world.agent, conn="nodeA-1")
        open_agent(world, world.agent, conn="nodeA-2")
        open_agent(world, world.agent2, conn="nodeB-1")
    published.clear()
    for _ in range(3):
        clock.advance(30)
        presence.connection_heartbeat(
            tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent2.pk, connection_id="nodeB-1"
        )
    assert presence.sweep() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert presence.sweep() == 0
    assert statuses(world) == {
        world.owner.public_id: "offline", world.agent.public_id: "offline", world.agent2.public_id: "online",
    }
    # Exactly one offline announcement for alice, none for bob.
    assert presence_events(world)[-1] == (world.agent.public_id, "online", "offline")
    assert [e for e in presence_events(world) if e[0] == world.agent.public_id][1:] == [
        (world.agent.public_id, "online", "offline")
    ]


def test_sweep_publishes_the_change(world, clock, published, django_capture_on_commit_callbacks):
    open_agent(world, world.agent)
    clock.advance(TTL + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert presence.sweep() == 1
    assert published == [(presence_group(world.tenant.pk), {"type": "presence.changed"})]


def test_a_heartbeat_after_a_sweep_revives_the_connection(world, clock):
    open_agent(world, world.agent)
    clock.advance(TTL + 1)
    presence.sweep()
    presence.connection_heartbeat(
        tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk, connection_id="c1"
    )
    assert statuses(world)[world.agent.public_id] == "online"
    assert [e[2] for e in presence_events(world)] == ["online", "offline", "online"]


def test_contacts_are_tracked_but_not_announced(world, clock, published):
    kw = {"tenant_id": world.tenant.pk, "kind": "contact", "subject_id": world.contact.pk}
    assert presence.is_connected(**kw) is False
    presence.connection_opened(**kw, connection_id="w1", transport="longpoll")
    assert presence.is_connected(**kw) is True
    assert presence.team_online(world.tenant.pk) is False
    presence.connection_closed(**kw, connection_id="w1")
    assert presence.is_connected(**kw) is False
    assert presence_events(world) == [] and published == []


def test_presence_never_crosses_tenants(world, outsider, clock):
    open_agent(world, world.agent)
    assert presence.team_online(outsider.tenant.pk) is False
    assert set(statuses(outsider).values()) == {"offline"}
    # The same subject id under another tenant is a different subject.
    assert not presence.is_connected(tenant_id=outsider.tenant.pk, kind="agent", subject_id=world.agent.pk)
    with scope(tenant=outsider.tenant):
        assert not OutboxEvent.objects.filter(type="agent.presence_changed").exists()


def test_inactive_agents_are_never_online(world, clock):
    world.agent.is_active = False
    world.agent.save(update_fields=["is_active"])
    open_agent(world, world.agent)
    assert world.agent.public_id not in statuses(world)
    assert presence.team_online(world.tenant.pk) is False


def test_sweep_task_runs_the_sweep(world, clock):
    from push.tasks_presence import sweep_presence

    open_agent(world, world.agent)
    clock.advance(TTL + 1)
    assert sweep_presence() == 1
    assert statuses(world)[world.agent.public_id] == "offline"
