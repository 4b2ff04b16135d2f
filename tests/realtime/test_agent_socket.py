"""The agent WebSocket: session auth, inbox frames and catch-up, subscribe/replay, notes, presence."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from support.models import Membership
from support.services.conversations import set_status
from tests.realtime.conftest import in_tenant, open_agent, open_visitor, visitor_token
from tests.realtime.test_visitor_socket import messages_of, started, visitor_with_agent_following

pytestmark = pytest.mark.django_db(transaction=True)


async def test_no_session_closes_4401(world):
    sock = await open_agent(None, send_hello=False)
    assert (await sock.recv())["code"] == "unauthenticated"
    assert await sock.closed_code() == 4401


async def test_foreign_origin_closes_4403(world):
    sock = await open_agent(world.agent, origin="https://evil.example", send_hello=False)
    assert (await sock.recv())["code"] == "origin_forbidden"
    assert await sock.closed_code() == 4403


async def test_welcome_lists_agents_presence(world):
    sock = await open_agent(world.agent)
    welcome = await sock.recv_type("welcome")
    assert welcome["you"]["id"] == world.agent.public_id
    statuses = {a["name"]: a["status"] for a in welcome["agents"]}
    assert statuses == {"Alice": "online", "Bob": "offline", "Owner": "offline"}
    assert welcome["inbox_since"].isdigit() and welcome["inbox_resync"] is False
    await sock.close()


async def test_new_conversations_and_their_changes_reach_the_inbox(world, outsider):
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    visitor, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    frame = await agent.recv_type("conversation")
    assert frame["conversation"]["id"] == conv_id
    _, _, their_ack = await started(outsider)  # another tenant's conversation never shows up

    def resolve():
        with in_tenant(world.tenant):
            from support.access import access_conversation

            set_status(conversation=access_conversation(world.tenant, conv_id), status="resolved", actor=world.agent)

    await sync_to_async(resolve)()
    frames = [f for f in await agent.drain(0.3) if f["type"] == "conversation"]
    assert frames and frames[-1]["conversation"]["status"] == "resolved"
    assert {f["conversation"]["id"] for f in frames} == {conv_id}
    await agent.close()
    await visitor.close()


async def test_inbox_catch_up_after_reconnect(world):
    agent = await open_agent(world.agent)
    welcome = await agent.recv_type("welcome")
    await agent.close()
    visitor, token, ack = await started(world)
    again = await open_agent(world.agent, hello={"inbox_since": welcome["inbox_since"]})
    await again.recv_type("welcome")
    frame = await again.recv_type("conversation")
    assert frame["conversation"]["id"] == ack["message"]["conversation"]
    assert int(frame["inbox_since"]) > int(welcome["inbox_since"])
    await again.close()
    await visitor.close()


async def test_subscribe_replays_and_follows_and_notes_reach_agents_only(world):
    visitor, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.drain()
    await agent.send({"type": "subscribe", "conversation": conv_id, "last_seq": 0})
    replay = await agent.recv_type("message")
    assert (replay["message"]["seq"], replay["message"]["body"], replay["prev_seq"]) == (1, "hello", 0)

    await agent.send({"type": "send", "conversation": conv_id, "client_id": "n-1", "body": "vip", "kind": "note"})
    note_ack = await agent.recv_type("ack")
    assert note_ack["message"]["kind"] == "note" and note_ack["prev_seq"] == 1
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "r-1", "body": "Hello!"})
    reply_ack = await agent.recv_type("ack")
    assert reply_ack["message"]["author"] == {"type": "agent", "id": world.agent.public_id, "name": "Alice"}

    got = await visitor.recv_type("message")
    assert got["message"]["body"] == "Hello!" and got["prev_seq"] == 1
    assert all(f.get("message", {}).get("kind") != "note" for f in await visitor.drain())

    # A second agent watching the conversation sees the note.
    bob = await open_agent(world.agent2, hello={"resume": {conv_id: 1}})
    await bob.recv_type("welcome")
    seen = [f["message"]["body"] for f in await bob.drain() if f["type"] == "message"]
    assert seen == ["vip", "Hello!"]

    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "thanks"})
    assert (await agent.recv_type("message"))["message"]["body"] == "thanks"
    await agent.send({"type": "unsubscribe", "conversation": conv_id})
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-3", "body": "bye"})
    assert [f for f in await agent.drain() if f["type"] == "message"] == []
    for s in (agent, bob, visitor):
        await s.close()


async def test_agent_resume_after_disconnect_gets_exactly_the_missed_messages(world):
    visitor, agent, conv_id = await visitor_with_agent_following(world)
    await agent.close()
    for i in range(4):
        await visitor.send({"type": "send", "conversation": conv_id, "client_id": f"m-{i}", "body": f"m{i}"})
        await visitor.recv_type("ack")
    again = await open_agent(world.agent, hello={"resume": {conv_id: 1}})
    await again.recv_type("welcome")
    frames = [f for f in await again.drain(0.3) if f["type"] == "message"]
    assert [f["message"]["body"] for f in frames] == ["m0", "m1", "m2", "m3"]
    assert [f["message"]["seq"] for f in frames] == [2, 3, 4, 5]
    await again.close()
    await visitor.close()


async def test_agent_errors_and_foreign_ids(world, outsider):
    _, _, their_ack = await started(outsider)
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.drain()
    foreign = their_ack["message"]["conversation"]
    for frame, code in [
        ({"type": "send", "conversation": None, "client_id": "x", "body": "b"}, "invalid_field"),
        ({"type": "send", "conversation": foreign, "client_id": "x", "body": "b"}, "not_found"),
        ({"type": "subscribe", "conversation": foreign, "last_seq": 0}, "not_found"),
        ({"type": "typing", "conversation": foreign, "on": True}, "not_found"),
        ({"type": "read", "conversation": foreign, "seq": 1}, "not_found"),
        ({"type": "presence", "status": "gone"}, "invalid_field"),
        ({"type": "presence"}, "missing_field"),
        ({"type": "subscribe", "conversation": foreign, "last_seq": "1"}, "invalid_field"),
    ]:
        await agent.send(frame)
        error = await agent.recv_type("error")
        assert error["code"] == code, frame
    assert await sync_to_async(messages_of)(outsider, foreign) == [(1, "hello")]
    await agent.close()


async def test_agent_sets_away_and_everyone_sees_it(world):
    alice = await open_agent(world.agent)
    await alice.recv_type("welcome")
    bob = await open_agent(world.agent2)
    await bob.recv_type("welcome")
    token = await visitor_token(world.tenant)
    visitor = await open_visitor(token)
    assert (await visitor.recv_type("welcome"))["team_online"] is True
    await alice.drain()
    await alice.send({"type": "presence", "status": "away"})
    frame = await bob.recv_type("presence")
    assert {a["name"]: a["status"] for a in frame["agents"]}["Alice"] == "away"
    with in_tenant(world.tenant):
        stored = await sync_to_async(Membership.objects.get)(pk=world.agent.pk)
    assert stored.availability == "away"
    await bob.send({"type": "presence", "status": "away"})
    while (await visitor.recv_type("presence"))["team_online"]:
        pass  # Alice going away alone left Bob online
    for s in (alice, bob, visitor):
        await s.close()


async def test_the_session_tenant_picks_the_membership(world, outsider, settings):
    """A user in two tenants gets the tenant chosen in their login session."""
    from support.models import Membership as M

    def join():
        from django_scopes import scopes_disabled

        with scopes_disabled():  # fixture setup: a second membership for the same user
            return M.objects.create(tenant=outsider.tenant, user=world.agent.user)

    theirs = await sync_to_async(join)()
    from channels.testing import WebsocketCommunicator

    from tests.realtime.conftest import Socket, application, session_cookie

    cookie = await sync_to_async(session_cookie)(world.agent, tenant_public_id=outsider.tenant.public_id)
    comm = WebsocketCommunicator(application(), "/ws/agent/", headers=[
        (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", f"sessionid={cookie}".encode())])
    await comm.connect()
    sock = Socket(comm)
    await sock.send({"type": "hello"})
    welcome = await sock.recv_type("welcome")
    assert welcome["you"]["id"] == theirs.public_id
    assert world.agent.public_id not in {a["id"] for a in welcome["agents"]}
    await sock.close()
