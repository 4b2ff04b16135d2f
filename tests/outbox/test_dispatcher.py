"""The dispatcher on the embedded database: outcomes recorded once, backoff, dead letters, replay, order."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from support.events import dispatcher
from support.events.models import OutboxDelivery, OutboxEvent
from support.events.outbox import emit_event, kick_dispatcher
from support.models import Conversation
from tests.outbox.conftest import emit

S = OutboxDelivery.Status


def deliveries(**filters):
    with scopes_disabled():
        return list(OutboxDelivery.objects.filter(**filters).select_related("event").order_by("event_id"))


def test_rollback_writes_no_event_and_no_kick(world, register, django_capture_on_commit_callbacks):
    register(lambda e: None, events=["t.rollback"])
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ZeroDivisionError):
            with transaction.atomic():
                emit_event(tenant=world.tenant, type="t.rollback", payload={})
                1 / 0
    with scopes_disabled():
        assert OutboxEvent.objects.count() == 0
        assert OutboxDelivery.objects.count() == 0
    assert callbacks == []


def test_one_delivery_per_handler_and_one_kick_per_transaction(world, register, django_capture_on_commit_callbacks):
    a = register(lambda e: None, events=["t.kick"])
    b = register(lambda e: None, events=["*"])
    register(lambda e: None, events=["t.other"])
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            events = [emit_event(tenant=world.tenant, type="t.kick", payload={}) for _ in range(3)]
    assert callbacks == [kick_dispatcher]
    # The change's transaction writes the events only, each naming its handlers.
    with scopes_disabled():
        assert [(e.handlers, e.fanned_out) for e in OutboxEvent.objects.order_by("id")] == [([a, b], False)] * 3
    assert deliveries() == []
    # The dispatcher writes one pending delivery per handler, due when its event was written.
    assert dispatcher.fan_out(now=timezone.now(), limit=100) == 3
    assert sorted((d.event_id, d.handler) for d in deliveries()) == sorted((e.pk, h) for e in events for h in (a, b))
    assert {(d.status, d.attempts, d.next_attempt_at) for d in deliveries(event=events[0])} == {
        (S.PENDING, 0, events[0].created_at)
    }
    assert dispatcher.fan_out(now=timezone.now(), limit=100) == 0
    assert len(deliveries()) == 6


def test_an_event_stamped_ahead_of_the_dispatcher_clock_is_due_at_once(world, register):
    runs = []
    register(lambda e: runs.append(e.pk), events=["t.ahead"])
    event = emit(world.tenant, "t.ahead")
    with scopes_disabled():  # written by a node whose clock runs a minute ahead
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=event.created_at + timedelta(minutes=1))
    assert dispatcher.drain().done == 1 and runs == [event.pk]


def test_an_event_nobody_handles_needs_no_dispatcher(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        event = emit(world.tenant, "t.nobody")
    assert (event.handlers, event.fanned_out) == ([], True)
    assert callbacks == []
    assert dispatcher.drain().fanned_out == 0 and deliveries() == []


def test_fan_out_in_small_batches_keeps_an_ordered_key_in_order(world, register, settings):
    settings.OUTBOX_BATCH_SIZE = 2
    seen = []
    register(lambda e: seen.append(e.payload["n"]), events=["t.ord3"], ordered=True)
    for n in range(5):
        emit(world.tenant, "t.ord3", "cv_k", n=n)
    stats = dispatcher.drain()
    assert (stats.fanned_out, stats.done) == (5, 5)
    assert seen == [0, 1, 2, 3, 4]


def test_success_is_recorded_once_and_never_run_again(world, register):
    runs = []
    name = register(lambda e: runs.append(e.public_id), events=["t.ok"])
    event = emit(world.tenant, "t.ok", n=1)
    stats = dispatcher.drain()
    assert stats.done == 1 and runs == [event.public_id]
    assert dispatcher.drain().claimed == 0
    (d,) = deliveries(handler=name)
    assert d.status == S.DONE and d.attempts == 1 and d.handled_at is not None and d.last_error == ""
    assert runs == [event.public_id]


def test_a_failing_handler_does_not_rerun_the_one_that_succeeded(world, register):
    good_runs = []
    good = register(lambda e: good_runs.append(1), events=["t.mixed"])

    def bad(event):
        raise RuntimeError("smtp down")

    bad_name = register(bad, events=["t.mixed"], max_attempts=3)
    emit(world.tenant, "t.mixed")
    t = timezone.now()
    for step in range(5):
        dispatcher.drain(now=t + timedelta(hours=step))
    assert good_runs == [1]
    assert deliveries(handler=good)[0].status == S.DONE
    assert deliveries(handler=bad_name)[0].status == S.DEAD


def test_failures_back_off_then_dead_letter_then_replay(world, register, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    settings.OUTBOX_RETRY_MAX_SECONDS = 25
    calls = []
    healthy = False

    def flaky(event):
        calls.append(event.public_id)
        if not healthy:
            raise ConnectionError("endpoint refused the connection")

    name = register(flaky, events=["t.flaky"], max_attempts=4)
    emit(world.tenant, "t.flaky")
    t0 = timezone.now()

    dispatcher.drain(now=t0)
    (d,) = deliveries(handler=name)
    assert (d.status, d.attempts) == (S.PENDING, 1)
    assert "endpoint refused the connection" in d.last_error
    # Attempt 1 failed: 10 s jittered to 5–10 s.
    assert t0 + timedelta(seconds=5) <= d.next_attempt_at <= t0 + timedelta(seconds=10)
    assert dispatcher.drain(now=d.next_attempt_at - timedelta(milliseconds=1)).claimed == 0
    assert len(calls) == 1

    t1 = d.next_attempt_at
    dispatcher.drain(now=t1)
    (d,) = deliveries(handler=name)
    assert (d.status, d.attempts) == (S.PENDING, 2)
    assert t1 + timedelta(seconds=10) <= d.next_attempt_at <= t1 + timedelta(seconds=20)

    t2 = d.next_attempt_at
    dispatcher.drain(now=t2)
    (d,) = deliveries(handler=name)
    # 40 s would be next, capped at 25 s, jittered to 12.5–25 s.
    assert t2 + timedelta(seconds=12.5) <= d.next_attempt_at <= t2 + timedelta(seconds=25)

    dispatcher.drain(now=d.next_attempt_at)
    (d,) = deliveries(handler=name)
    assert (d.status, d.attempts) == (S.DEAD, 4)
    assert "ConnectionError: endpoint refused the connection" in d.last_error
    assert dispatcher.drain(now=t0 + timedelta(days=1)).claimed == 0
    assert len(calls) == 4

    healthy = True
    t3 = t0 + timedelta(days=1)
    assert dispatcher.replay([d], now=t3) == 1
    dispatcher.drain(now=t3)
    (d,) = deliveries(handler=name)
    assert (d.status, d.attempts, d.last_error) == (S.DONE, 1, "")
    assert len(calls) == 5
    # Replaying something done is refused: it would run a handled event again.
    assert dispatcher.replay([d], now=t3) == 0


def test_retry_delay_is_capped_and_jittered(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 2
    settings.OUTBOX_RETRY_MAX_SECONDS = 60
    assert dispatcher.retry_delay(1, rng=lambda: 1.0) == timedelta(seconds=2)
    assert dispatcher.retry_delay(1, rng=lambda: 0.0) == timedelta(seconds=1)
    assert dispatcher.retry_delay(4, rng=lambda: 1.0) == timedelta(seconds=16)
    assert dispatcher.retry_delay(30, rng=lambda: 1.0) == timedelta(seconds=60)
    assert dispatcher.retry_delay(30, rng=lambda: 0.0) == timedelta(seconds=30)


def test_ordered_handler_sees_one_key_in_creation_order_across_failures(world, register, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 10
    seen = []
    failures = {"first": 2}

    def ordered(event):
        if event.payload["n"] == "first" and failures["first"] > 0:
            failures["first"] -= 1
            raise RuntimeError("try again")
        seen.append((event.ordering_key, event.payload["n"]))

    register(ordered, events=["t.ord"], ordered=True)
    emit(world.tenant, "t.ord", "cv_a", n="first")
    emit(world.tenant, "t.ord", "cv_a", n="second")
    emit(world.tenant, "t.ord", "cv_b", n="other")
    emit(world.tenant, "t.ord", "cv_a", n="third")
    t = timezone.now()
    dispatcher.drain(now=t)
    # cv_a waits behind its failed first event; cv_b is independent.
    assert seen == [("cv_b", "other")]
    dispatcher.drain(now=t + timedelta(seconds=10))
    assert seen == [("cv_b", "other")]
    dispatcher.drain(now=t + timedelta(minutes=5))
    assert seen == [("cv_b", "other"), ("cv_a", "first"), ("cv_a", "second"), ("cv_a", "third")]


def test_a_dead_earlier_event_stops_blocking_its_key(world, register):
    seen = []

    def ordered(event):
        if event.payload["n"] == 1:
            raise RuntimeError("poison")
        seen.append(event.payload["n"])

    name = register(ordered, events=["t.ord2"], ordered=True, max_attempts=2)
    emit(world.tenant, "t.ord2", "cv_x", n=1)
    emit(world.tenant, "t.ord2", "cv_x", n=2)
    t = timezone.now()
    dispatcher.drain(now=t)
    assert seen == []
    dispatcher.drain(now=t + timedelta(hours=1))
    assert seen == [2]
    assert [d.status for d in deliveries(handler=name)] == [S.DEAD, S.DONE]


def test_a_lost_worker_claim_is_taken_again_after_the_lease(world, register, settings):
    settings.OUTBOX_LEASE_SECONDS = 30
    runs = []
    name = register(lambda e: runs.append(1), events=["t.lease"])
    emit(world.tenant, "t.lease")
    t = timezone.now()
    # A worker claims and dies before running anything.
    (lost,) = dispatcher.claim(now=t, limit=10, token="dead-worker")
    assert lost.status == S.RUNNING or deliveries(handler=name)[0].status == S.RUNNING
    assert dispatcher.drain(now=t + timedelta(seconds=29)).claimed == 0
    stats = dispatcher.drain(now=t + timedelta(seconds=31))
    assert stats.done == 1 and runs == [1]
    (d,) = deliveries(handler=name)
    assert (d.status, d.attempts) == (S.DONE, 2)


def test_a_worker_whose_lease_was_taken_does_not_record_over_the_new_claim(world, register, settings):
    settings.OUTBOX_LEASE_SECONDS = 30
    name = register(lambda e: None, events=["t.stale"])
    emit(world.tenant, "t.stale")
    t = timezone.now()
    slow = dispatcher.claim(now=t, limit=10, token="slow")
    fresh = dispatcher.claim(now=t + timedelta(seconds=31), limit=10, token="fresh")
    assert [d.id for d in slow] == [d.id for d in fresh]
    dispatcher.run_claimed(slow, token="slow", clock=lambda: t + timedelta(seconds=32))
    (d,) = deliveries(handler=name)
    assert (d.status, d.claim_token) == (S.RUNNING, "fresh")
    dispatcher.run_claimed(fresh, token="fresh", clock=lambda: t + timedelta(seconds=33))
    assert deliveries(handler=name)[0].status == S.DONE


def test_a_handler_that_keeps_killing_its_worker_goes_dead(world, register, settings):
    settings.OUTBOX_LEASE_SECONDS = 10
    runs = []
    name = register(lambda e: runs.append(1), events=["t.poison"], max_attempts=2)
    emit(world.tenant, "t.poison")
    t = timezone.now()
    dispatcher.claim(now=t, limit=1, token="w1")
    dispatcher.claim(now=t + timedelta(seconds=11), limit=1, token="w2")
    dispatcher.drain(now=t + timedelta(seconds=22))
    (d,) = deliveries(handler=name)
    assert d.status == S.DEAD and "lease expired" in d.last_error and runs == []


def test_unknown_handler_is_a_recorded_failure(world, register):
    name = register(lambda e: None, events=["t.gone"])
    emit(world.tenant, "t.gone")
    from support.events import handlers

    handlers.REGISTRY.pop(name)
    dispatcher.drain()
    (d,) = deliveries(handler=name)
    assert d.status == S.PENDING and "No outbox handler named" in d.last_error


def test_handlers_run_in_the_tenant_scope_of_their_event(world, outsider, register):
    counted = {}

    def count(event):
        # No explicit scope: the dispatcher provides the event's tenant scope.
        counted[event.tenant.slug] = Conversation.objects.count()

    register(count, events=["t.scope"])
    emit(world.tenant, "t.scope")
    emit(outsider.tenant, "t.scope")
    dispatcher.drain()
    assert counted == {"acme": 0, "globex": 0}


def test_prune_keeps_pending_and_recent_dead_letters(world, register, settings):
    settings.OUTBOX_RETENTION_DAYS = 7
    settings.OUTBOX_DEAD_RETENTION_DAYS = 30
    ok = register(lambda e: None, events=["t.prune"])

    def fail(event):
        if event.payload["kind"] == "dead":
            raise RuntimeError("no")

    register(fail, events=["t.prune"], max_attempts=1)
    done = emit(world.tenant, "t.prune", kind="done")
    dead = emit(world.tenant, "t.prune", kind="dead")
    fresh = emit(world.tenant, "t.prune", kind="done")
    pending = emit(world.tenant, "t.prune", kind="done")
    assert dispatcher.fan_out(now=timezone.now(), limit=100) == 4
    old = timezone.now() - timedelta(days=8)
    with scopes_disabled():
        OutboxEvent.objects.filter(pk__in=[done.pk, dead.pk, pending.pk]).update(created_at=old)
        OutboxDelivery.objects.filter(event=pending).update(next_attempt_at=timezone.now() + timedelta(days=1))
    dispatcher.drain()
    # Old, and no dispatcher has taken it yet (workers down): it has no deliveries, and stays.
    waiting = emit(world.tenant, "t.prune", kind="done")
    with scopes_disabled():
        OutboxEvent.objects.filter(pk=waiting.pk).update(created_at=old)
    assert dispatcher.prune() == 1
    with scopes_disabled():
        assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {dead.pk, fresh.pk, pending.pk, waiting.pk}
        assert not OutboxDelivery.objects.filter(event_id=done.pk).exists()
    # A month on, the dead letter goes too; pending work never does.
    assert dispatcher.prune(now=timezone.now() + timedelta(days=31)) == 2
    with scopes_disabled():
        assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {pending.pk, waiting.pk}
    assert ok


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_is_refused(world):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit_event(tenant=world.tenant, type="t.none", payload={})
    with scopes_disabled():
        assert OutboxEvent.objects.count() == 0


def test_beat_sweeps_every_few_seconds_and_prunes_daily(settings):
    from config.celery import app

    app.finalize()
    schedule = app.conf.beat_schedule
    assert schedule["outbox-sweep"]["task"] == "events.sweep_outbox"
    assert schedule["outbox-sweep"]["schedule"] == float(settings.OUTBOX_SWEEP_SECONDS) <= 5
    assert schedule["outbox-prune"]["task"] == "events.prune_outbox"
    assert {"events.sweep_outbox", "events.prune_outbox", "events.dispatch_outbox"} <= set(app.tasks)
