"""Many assigners at once on real PostgreSQL never push an agent past capacity."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import Count, Q
from django_scopes import scope

from support.models import Contact, Conversation, Membership
from support.services.assignment import LOAD_STATUSES, auto_assign, drain_queue
from support.services.conversations import start_conversation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_in_threads(target, args_list):
    """Start every call at once (a barrier), each thread on its own DB connection."""
    barrier = threading.Barrier(len(args_list))
    errors: list[BaseException] = []

    def work(*args):
        try:
            barrier.wait(timeout=30)
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def loads(world):
    with scope(tenant=world.tenant):
        return dict(
            Membership.objects.annotate(
                load=Count("assigned_conversations", filter=Q(assigned_conversations__status__in=LOAD_STATUSES))
            ).values_list("pk", "load")
        )


def set_capacity(world, capacity):
    with scope(tenant=world.tenant):
        Membership.objects.update(capacity=capacity)


def test_concurrent_auto_assign_never_exceeds_capacity(require_postgres, world, online):
    set_capacity(world, 2)
    online(world.agent, world.agent2)
    with scope(tenant=world.tenant):
        convs = [
            start_conversation(tenant=world.tenant, contact=Contact.objects.create(tenant=world.tenant))
            for _ in range(THREADS * 2)
        ]
    pairs = [(convs[i], convs[i + THREADS]) for i in range(THREADS)]

    def assign_both(a, b):
        auto_assign(conversation=a)
        auto_assign(conversation=b)

    run_in_threads(assign_both, pairs)
    per_agent = loads(world)
    assert per_agent[world.agent.pk] == 2 and per_agent[world.agent2.pk] == 2
    assert per_agent[world.owner.pk] == 0  # offline
    with scope(tenant=world.tenant):
        assert Conversation.objects.filter(assignee__isnull=True, queued_at__isnull=False).count() == THREADS * 2 - 4


def test_concurrent_creation_and_draining_never_exceeds_capacity(require_postgres, world, online):
    set_capacity(world, 3)
    online(world.owner, world.agent, world.agent2)

    def create_and_assign(i):
        with scope(tenant=world.tenant):
            contact = Contact.objects.create(tenant=world.tenant, name=f"v{i}")
            conv = start_conversation(tenant=world.tenant, contact=contact)
        auto_assign(conversation=conv)
        drain_queue(tenant=world.tenant)

    run_in_threads(create_and_assign, [(i,) for i in range(THREADS * 2)])
    per_agent = loads(world)
    assert sorted(per_agent.values()) == [3, 3, 3]
    with scope(tenant=world.tenant):
        waiting = Conversation.objects.filter(assignee__isnull=True).count()
    assert waiting == THREADS * 2 - 9
