"""The group-commit queue: a lone send goes at once, sends that arrive meanwhile share the next
batch (capped), a refused send fails alone, and a failed batch fails only its own sends."""
from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import OperationalError
from django.utils import translation
from django_scopes import scope, scopes_disabled

from push import group_commit
from push.protocol import AgentSession, VisitorSession
from push.protocol.dbthread import on_db_thread
from support.access import ConversationRef
from support.errors import NotFound, ValidationFailed
from support.models import Contact, Conversation, Message
from support.services.conversations import start_conversation
from support.services.message_batch import PostResult, SendRequest, post_messages

pytestmark = pytest.mark.django_db(transaction=True)


def _convs(world, n: int) -> list[Conversation]:
    with scope(tenant=world.tenant):
        return [start_conversation(tenant=world.tenant, contact=world.contact) for _ in range(n)]


def _send(world, conv: Conversation, client_id: str, body: str = "hi") -> SendRequest:
    return SendRequest(
        to=ConversationRef(world.tenant.pk, public_id=conv.public_id, contact_id=world.contact.pk),
        author_type=Message.Author.CONTACT, body=body, client_id=client_id,
    )


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of every batch written, in order."""
    sizes: list[int] = []
    real = group_commit.post_messages

    def counted(requests):
        sizes.append(len(requests))
        return real(requests)

    monkeypatch.setattr(group_commit, "post_messages", counted)
    return sizes


def _stored(conv: Conversation) -> list[tuple[int, str | None]]:
    with scopes_disabled():
        return list(Message.objects.filter(conversation=conv).order_by("seq").values_list("seq", "client_id"))


async def test_a_lone_send_is_written_at_once_alone(world, batches):
    (conv,) = await sync_to_async(_convs)(world, 1)
    result = await group_commit.submit(_send(world, conv, "c-1"))
    assert (result.message.seq, result.created, batches) == (1, True, [1])


async def test_sends_arriving_together_share_batches_of_at_most_the_cap(world, batches, monkeypatch):
    monkeypatch.setattr(group_commit, "BATCH_MAX", 10)
    convs = await sync_to_async(_convs)(world, 3)
    sends = [_send(world, convs[k % 3], f"c-{k}", f"m{k}") for k in range(25)]
    sends.append(_send(world, convs[0], "c-3", "m3 again"))  # a retry beside its original
    results = await asyncio.gather(*(group_commit.submit(s) for s in sends))
    assert batches == [10, 10, 6]
    assert [r.created for r in results] == [True] * 25 + [False]
    assert results[-1].message.pk == results[3].message.pk
    for conv in convs:
        stored = await sync_to_async(_stored)(conv)
        assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
        # Arrival order within each conversation.
        assert [cid for _, cid in stored] == [f"c-{k}" for k in range(25) if convs[k % 3] == conv]
    assert [r.message.client_id for r in results] == [f"c-{k}" for k in range(25)] + ["c-3"]


async def test_a_refused_send_fails_alone(world, outsider, batches):
    (conv,) = await sync_to_async(_convs)(world, 1)
    (foreign,) = await sync_to_async(_convs)(outsider, 1)
    sends = [_send(world, conv, "c-1"), _send(world, foreign, "c-2"), _send(world, conv, "c-3", " "),
             _send(world, conv, "c-4")]
    results = await asyncio.gather(*(group_commit.submit(s) for s in sends), return_exceptions=True)
    assert batches == [4]
    assert isinstance(results[1], NotFound) and isinstance(results[2], ValidationFailed)
    assert [(r.message.seq, r.message.client_id) for r in results if isinstance(r, PostResult)] == [
        (1, "c-1"), (2, "c-4")
    ]
    assert await sync_to_async(_stored)(conv) == [(1, "c-1"), (2, "c-4")]


@pytest.fixture
def next_batch_fails(monkeypatch) -> None:
    """The next batch meets a database error; the ones after it are written."""
    real = group_commit.post_messages
    failures = [OperationalError("server closed the connection unexpectedly")]

    def flaky(requests):
        if failures:
            raise failures.pop()
        return real(requests)

    monkeypatch.setattr(group_commit, "post_messages", flaky)


async def test_a_failed_batch_fails_its_sends_and_the_queue_goes_on(world, next_batch_fails):
    (conv,) = await sync_to_async(_convs)(world, 1)
    results = await asyncio.gather(
        *(group_commit.submit(_send(world, conv, f"c-{k}")) for k in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, group_commit.WriteFailed) and r.code == "unavailable" for r in results), results
    assert await sync_to_async(_stored)(conv) == []
    # The next sends (the retries among them) are written.
    again = await asyncio.gather(*(group_commit.submit(_send(world, conv, f"c-{k}")) for k in range(3)))
    assert [(r.message.seq, r.created) for r in again] == [(1, True), (2, True), (3, True)]


async def test_a_sender_that_stops_waiting_does_not_stop_its_batch(world, batches):
    (conv,) = await sync_to_async(_convs)(world, 1)
    gone = asyncio.ensure_future(group_commit.submit(_send(world, conv, "c-gone")))
    stays = asyncio.ensure_future(group_commit.submit(_send(world, conv, "c-stays")))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await stays).message.seq == 2
    assert await sync_to_async(_stored)(conv) == [(1, "c-gone"), (2, "c-stays")]


def _contact_with_tenant(world):
    with scopes_disabled():
        contact = Contact.objects.select_related("tenant").get(pk=world.contact.pk)
    return contact


async def test_sessions_sending_at_once_share_batches_and_each_gets_its_own_answer(world, outsider, batches):
    """Through the protocol: agents and the visitor send into one conversation at once (one send
    in flight each, as a socket does), one of them also into another tenant's conversation. Sends
    share batches; each ack is the stored row, in gapless order; the foreign send alone is refused."""
    (conv,) = await sync_to_async(_convs)(world, 1)
    (foreign,) = await sync_to_async(_convs)(outsider, 1)
    contact = await sync_to_async(_contact_with_tenant)(world)
    sessions = [
        AgentSession(tenant=world.tenant, membership=world.agent, connection_id="a1", transport="ws"),
        AgentSession(tenant=world.tenant, membership=world.agent2, connection_id="a2", transport="ws"),
        VisitorSession(tenant=world.tenant, contact=contact, connection_id="v", transport="ws"),
    ]

    async def talk(n: int, session) -> list[dict]:
        frames = []
        for k in range(6):
            target = foreign.public_id if (n, k) == (0, 3) else conv.public_id
            frames += await session.receive_frame(
                {"type": "send", "conversation": target, "client_id": f"s{n}-{k}", "body": f"{n}/{k}"}
            )
        return frames

    answers = await asyncio.gather(*(talk(n, s) for n, s in enumerate(sessions)))
    assert max(batches) > 1, batches
    errors = [f for frames in answers for f in frames if f["type"] == "error"]
    assert [(f["code"], f["client_id"]) for f in errors] == [("not_found", "s0-3")]
    acks = {f["client_id"]: f["message"] for frames in answers for f in frames if f["type"] == "ack"}
    assert len(acks) == 17
    stored = await sync_to_async(_stored)(conv)
    assert [seq for seq, _ in stored] == list(range(1, 18))
    assert {cid: seq for seq, cid in stored} == {cid: m["seq"] for cid, m in acks.items()}
    assert await sync_to_async(_stored)(foreign) == []


async def test_a_batch_that_fails_answers_unavailable_and_the_session_goes_on(world, next_batch_fails):
    (conv,) = await sync_to_async(_convs)(world, 1)
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="a", transport="ws")
    send = {"type": "send", "conversation": conv.public_id, "client_id": "c-1", "body": "hello"}
    (frame,) = await session.receive_frame(send)
    assert (frame["type"], frame["code"], frame["client_id"]) == ("error", "unavailable", "c-1")
    (frame,) = await session.receive_frame(send)  # the client's retry, same client_id
    assert (frame["type"], frame["message"]["seq"]) == ("ack", 1)


async def test_a_batch_outliving_the_request_that_started_it_still_writes_on_the_shared_thread(world, monkeypatch):
    """The writer task started by a send inside a request's ThreadSensitiveContext (the lean
    long-poll path) must not inherit it: its later batches would run on that request's thread, or
    fail once the request ended (``unavailable``), and sends behind it would be lost."""
    (conv,) = await sync_to_async(_convs)(world, 1)
    shared = await on_db_thread(threading.get_ident)()
    threads: list[int] = []
    gates = [threading.Event(), threading.Event()]
    real = group_commit.post_messages

    def gated(requests):
        threads.append(threading.get_ident())
        if len(threads) <= len(gates):
            gates[len(threads) - 1].wait(10)
        return real(requests)

    monkeypatch.setattr(group_commit, "post_messages", gated)

    async def request() -> PostResult:
        with ThreadPoolExecutor(max_workers=1) as executor:
            async with ThreadSensitiveContext(executor=executor):
                return await group_commit.submit(_send(world, conv, "c-1"))

    first = asyncio.create_task(request())
    while not threads:
        await asyncio.sleep(0.01)
    second = asyncio.create_task(group_commit.submit(_send(world, conv, "c-2")))
    await asyncio.sleep(0.05)
    gates[0].set()  # the request's batch commits; the writer goes on with c-2's batch
    assert (await first).message.client_id == "c-1"  # ... and the request ends meanwhile
    third = asyncio.create_task(group_commit.submit(_send(world, conv, "c-3")))
    await asyncio.sleep(0.05)
    gates[1].set()
    results = await asyncio.gather(second, third)
    assert [r.message.client_id for r in results] == ["c-2", "c-3"]
    assert threads == [shared] * 3
    assert [cid for _, cid in await sync_to_async(_stored)(conv)] == ["c-1", "c-2", "c-3"]


async def test_one_batch_of_an_english_and_a_chinese_sender_gives_each_their_refusals_in_their_language(
    world, batches, settings,
):
    """A batch holds the sends of any languages: each refusal is written in its own sender's."""
    settings.MESSAGE_MAX_CHARS = 10_000
    (conv,) = await sync_to_async(_convs)(world, 1)
    contact = await sync_to_async(_contact_with_tenant)(world)
    sessions = {}
    for language in ("zh-hans", "en"):
        session = VisitorSession(tenant=world.tenant, contact=contact, connection_id=language, transport="ws")
        session.language = language
        sessions[language] = session
    refused = [
        ("not_found", {"conversation": "cv_nope", "body": "hi"}),  # refused under the batch's lock
        ("empty", {"conversation": conv.public_id, "body": "  "}),
        ("too_long", {"conversation": conv.public_id, "body": "x" * 10_001}),
    ]
    sends = [
        (language, {"type": "send", "client_id": f"{language}-{code}", **fields})
        for code, fields in refused for language in sessions
    ]
    answers = await asyncio.gather(*(sessions[language].receive_frame(frame) for language, frame in sends))
    assert batches == [len(sends)]  # one batch, both languages
    details = {(frame["client_id"], frame["code"]): frame["detail"] for (frame,) in answers}
    assert details == {
        ("zh-hans-not_found", "not_found"): "没有这个会话",
        ("en-not_found", "not_found"): "No such conversation",
        ("zh-hans-empty", "empty"): "消息为空",
        ("en-empty", "empty"): "Message is empty",
        ("zh-hans-too_long", "too_long"): "消息超过 10000 个字符",
        ("en-too_long", "too_long"): "Message is longer than 10000 characters",
    }
    assert await sync_to_async(_stored)(conv) == []


def test_a_refusal_of_a_batch_is_read_in_the_language_active_where_it_is_read(settings):
    settings.MESSAGE_MAX_CHARS = 10_000
    request = SendRequest(
        to=ConversationRef(1, public_id="cv_x"), author_type=Message.Author.CONTACT, body="x" * 10_001,
    )
    with translation.override("en"):
        (refusal,) = post_messages([request])
    assert isinstance(refusal, ValidationFailed)
    with translation.override("zh-hans"):
        assert refusal.detail == "消息超过 10000 个字符"
        assert str(refusal) == "消息超过 10000 个字符"
    assert json.dumps({"detail": refusal.detail}) == '{"detail": "Message is longer than 10000 characters"}'
