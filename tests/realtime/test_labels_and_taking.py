"""Labels and "replying takes it" reach every agent of the tenant live, over the realtime protocol.

- A change of a conversation's labels sends its inbox row, with the labels, to the tenant's other
  agent connections (and nothing to another tenant's); a label of another tenant is refused.
- An agent's reply (not a note) to a conversation nobody has assigns it to them, and the others see
  it; a reply never takes a conversation away from a teammate.
"""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django_scopes import scope, scopes_disabled

from support.events.models import OutboxEvent
from support.models import Conversation, Label, Message
from support.services.conversations import assign_conversation
from tests.api.conftest import session_client
from tests.realtime.conftest import open_agent
from tests.realtime.test_visitor_socket import started

pytestmark = pytest.mark.django_db(transaction=True)


async def rows(sock, conv_id: str, timeout: float = 0.4) -> list[dict]:
    return [f["conversation"] for f in await sock.drain(timeout)
            if f["type"] == "conversation" and f["conversation"]["id"] == conv_id]


async def welcomed(*memberships):
    socks = [await open_agent(m) for m in memberships]
    for sock in socks:
        await sock.recv_type("welcome")
    return socks


def _label(tenant, name: str) -> Label:
    with scope(tenant=tenant):
        return Label.objects.create(tenant=tenant, name=name, color="#b45309")


def _patch(membership, conv_id: str, changes: dict):
    return session_client(membership).patch(f"/api/v1/conversations/{conv_id}", changes)


def _conversation(tenant, conv_id: str) -> Conversation:
    with scope(tenant=tenant):
        return Conversation.objects.select_related("assignee").get(public_id=conv_id)


async def test_labels_reach_the_other_agents_live_with_the_row(world, outsider):
    vip = await sync_to_async(_label)(world.tenant, "vip")
    refund = await sync_to_async(_label)(world.tenant, "refund")
    bob, stranger = await welcomed(world.agent2, outsider.owner)
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await bob.drain()
    await stranger.drain()

    res = await sync_to_async(_patch)(world.agent, conv_id, {"labels": [vip.public_id, refund.public_id]})
    assert res.status_code == 200, res.content
    assert [label["name"] for label in res.json()["labels"]] == ["refund", "vip"]
    row = (await bob.recv_type("conversation"))["conversation"]
    assert row["id"] == conv_id
    assert row["labels"] == [
        {"id": refund.public_id, "name": "refund", "color": "#b45309"},
        {"id": vip.public_id, "name": "vip", "color": "#b45309"},
    ]
    assert [f for f in await stranger.drain() if f["type"] == "conversation"] == []

    # Removing one sends the row again, with what is left.
    res = await sync_to_async(_patch)(world.agent, conv_id, {"labels": [vip.public_id]})
    assert res.status_code == 200, res.content
    assert [label["name"] for label in (await rows(bob, conv_id))[-1]["labels"]] == ["vip"]

    # A message's row (the hot path) leaves labels out: clients keep the ones they have.
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "still there?"})
    await visitor.recv_type("ack")
    carried = (await rows(bob, conv_id))[-1]
    assert carried["last_seq"] == 2 and "labels" not in carried

    # A socket that resumes from an older watermark gets the row with its labels from the database.
    late = await open_agent(world.agent, hello={"inbox_since": str(row_us(row) - 1)})
    await late.recv_type("welcome")
    caught = (await rows(late, conv_id))[-1]
    assert [label["name"] for label in caught["labels"]] == ["vip"]
    for sock in (bob, stranger, visitor, late):
        await sock.close()


def row_us(row: dict) -> int:
    from datetime import datetime

    from push.protocol import to_us

    return to_us(datetime.fromisoformat(row["updated"]))


async def test_a_label_of_another_tenant_is_refused_and_changes_nothing(world, outsider):
    ours = await sync_to_async(_label)(world.tenant, "vip")
    theirs = await sync_to_async(_label)(outsider.tenant, "secret")
    bob, = await welcomed(world.agent2)
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await bob.drain()

    res = await sync_to_async(_patch)(world.agent, conv_id, {"labels": [ours.public_id, theirs.public_id]})
    assert res.status_code == 400, res.content
    assert res.json()["error"]["fields"]["labels"] == [f"No such label: {theirs.public_id}."]
    assert await rows(bob, conv_id) == []

    def labels_of() -> list[str]:
        with scope(tenant=world.tenant):
            return list(Conversation.objects.get(public_id=conv_id).labels.values_list("name", flat=True))

    assert await sync_to_async(labels_of)() == []
    # Filtering by a foreign label finds nothing, and counts nothing.
    client = await sync_to_async(session_client)(world.agent)
    listed = await sync_to_async(client.get)("/api/v1/conversations", {"label": theirs.public_id})
    assert listed.status_code == 200 and listed.json()["results"] == []
    counts = await sync_to_async(client.get)("/api/v1/conversations/counts", {"label": theirs.public_id})
    assert counts.json() == {"mine": 0, "unassigned": 0, "all": 0}
    for sock in (bob, visitor):
        await sock.close()


async def test_counts_follow_the_label_filter(world):
    vip = await sync_to_async(_label)(world.tenant, "vip")
    first, _, ack1 = await started(world, client_id="a-1")
    second, _, ack2 = await started(world, client_id="b-1")
    res = await sync_to_async(_patch)(world.agent, ack1["message"]["conversation"], {"labels": [vip.public_id]})
    assert res.status_code == 200
    client = await sync_to_async(session_client)(world.agent)
    counts = await sync_to_async(client.get)("/api/v1/conversations/counts", {"label": vip.public_id})
    assert counts.json() == {"mine": 0, "unassigned": 1, "all": 1}
    everything = await sync_to_async(client.get)("/api/v1/conversations/counts")
    assert everything.json()["all"] == 2
    for sock in (first, second):
        await sock.close()


async def test_replying_takes_an_unassigned_conversation_live_for_the_others(world, outsider):
    alice, bob, stranger = await welcomed(world.agent, world.agent2, outsider.owner)
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    assert (await sync_to_async(_conversation)(world.tenant, conv_id)).assignee_id is None
    for sock in (alice, bob, stranger):
        await sock.drain()

    # A note is no reply: nobody takes it.
    await alice.send({"type": "send", "conversation": conv_id, "client_id": "n-1", "body": "VIP", "kind": "note"})
    await alice.recv_type("ack")
    assert (await sync_to_async(_conversation)(world.tenant, conv_id)).assignee_id is None

    await alice.send({"type": "send", "conversation": conv_id, "client_id": "r-1", "body": "On it!"})
    await alice.recv_type("ack")
    conv = await sync_to_async(_conversation)(world.tenant, conv_id)
    assert conv.assignee_id == world.agent.pk and conv.queued_at is None
    taken = [r for r in await rows(bob, conv_id) if r["assignee"]]
    assert taken and taken[-1]["assignee"]["id"] == world.agent.public_id
    assert [f for f in await stranger.drain() if f["type"] == "conversation"] == []

    # The reply is the record: no event message follows it; integrations hear `conversation.assigned`.
    def history_and_event() -> tuple[list[tuple[str, str]], dict]:
        with scope(tenant=world.tenant):
            stored = Message.objects.filter(conversation__public_id=conv_id).order_by("seq")
            history = [(m.kind, m.body) for m in stored]
        with scopes_disabled():
            event = OutboxEvent.objects.filter(type="conversation.assigned", ordering_key=conv_id).get()
        return history, event.payload

    history, payload = await sync_to_async(history_and_event)()
    assert history == [("text", "hello"), ("note", "VIP"), ("text", "On it!")]
    assert payload["by_reply"] is True and payload["actor"] == world.agent.public_id
    assert payload["conversation"]["assignee"]["id"] == world.agent.public_id

    # Bob's reply does not take it away from Alice.
    await bob.send({"type": "send", "conversation": conv_id, "client_id": "r-2", "body": "Me too"})
    await bob.recv_type("ack")
    assert (await sync_to_async(_conversation)(world.tenant, conv_id)).assignee_id == world.agent.pk
    for sock in (alice, bob, stranger, visitor):
        await sock.close()


async def test_a_reply_over_the_rest_api_takes_it_too_and_never_from_a_teammate(world):
    first, _, ack1 = await started(world, client_id="a-1")
    second, _, ack2 = await started(world, client_id="b-1")
    free, owned = ack1["message"]["conversation"], ack2["message"]["conversation"]

    def assign_to_bob() -> None:
        with scope(tenant=world.tenant):
            assign_conversation(conversation=Conversation.objects.get(public_id=owned), assignee=world.agent2)

    await sync_to_async(assign_to_bob)()
    client = await sync_to_async(session_client)(world.agent)
    for conv_id in (free, owned):
        res = await sync_to_async(client.post)(f"/api/v1/conversations/{conv_id}/messages", {"body": "Hello"})
        assert res.status_code == 201, res.content
    assert (await sync_to_async(_conversation)(world.tenant, free)).assignee_id == world.agent.pk
    assert (await sync_to_async(_conversation)(world.tenant, owned)).assignee_id == world.agent2.pk
    for sock in (first, second):
        await sock.close()
