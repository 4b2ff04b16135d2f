"""Uploads never sent in a message are purged (rows and files) by a beat task; sent ones never are."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.access import ConversationRef
from support.models import Attachment, Message
from support.services.attachments import purge_unsent_attachments, store_attachment
from support.services.conversations import start_conversation
from support.services.messages import post_message
from support.tasks import purge_unsent_attachments_task

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def upload(world, *, hours_old: float, name: str = "shot.png") -> Attachment:
    with scope(tenant=world.tenant):
        attachment = store_attachment(tenant=world.tenant, uploaded_file=ContentFile(PNG), name=name)
        Attachment.objects.filter(pk=attachment.pk).update(created_at=timezone.now() - timedelta(hours=hours_old))
    return attachment


def send(world, attachment: Attachment) -> Message:
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        return post_message(conversation=conv, author_type="contact", kind="attachment", attachment=attachment).message


def exists(attachment: Attachment) -> tuple[bool, bool]:
    """(row exists, file exists in storage)."""
    with scopes_disabled():
        row = Attachment.objects.filter(pk=attachment.pk).exists()
    return row, default_storage.exists(attachment.file.name)


def test_old_unsent_uploads_go_with_their_files_and_everything_else_stays(world, outsider):
    old_unsent = upload(world, hours_old=25)
    old_sent = upload(world, hours_old=25 * 30)
    fresh_unsent = upload(world, hours_old=23)
    theirs_sent = upload(outsider, hours_old=48)
    theirs_unsent = upload(outsider, hours_old=48)
    send(world, old_sent)
    send(outsider, theirs_sent)
    assert all(exists(a) == (True, True) for a in (old_unsent, old_sent, fresh_unsent, theirs_sent, theirs_unsent))

    assert purge_unsent_attachments() == 2  # ours and theirs, each in its own tenant's scope

    assert exists(old_unsent) == (False, False)
    assert exists(theirs_unsent) == (False, False)
    assert exists(old_sent) == (True, True)
    assert exists(theirs_sent) == (True, True)
    assert exists(fresh_unsent) == (True, True)
    with scope(tenant=world.tenant):
        message = Message.objects.select_related("attachment").get(attachment=old_sent)
        assert message.attachment is not None and message.attachment.file.read() == PNG


def test_it_is_idempotent_and_survives_a_file_already_gone(world):
    first, second = upload(world, hours_old=30), upload(world, hours_old=30)
    default_storage.delete(first.file.name)  # a previous run deleted the file, then its commit failed
    assert purge_unsent_attachments() == 2
    assert exists(first) == (False, False) and exists(second) == (False, False)
    assert purge_unsent_attachments() == 0


def test_it_works_in_batches(world, outsider):
    ours = [upload(world, hours_old=30, name=f"f{i}.png") for i in range(5)]
    theirs = [upload(outsider, hours_old=30, name=f"g{i}.png") for i in range(3)]
    kept = upload(world, hours_old=30)
    send(world, kept)
    assert purge_unsent_attachments(batch_size=2) == 8
    assert all(exists(a) == (False, False) for a in ours + theirs)
    assert exists(kept) == (True, True)


def test_the_age_is_a_setting_and_time_is_injected(world, settings):
    settings.ATTACHMENT_UNSENT_MAX_AGE_HOURS = 2
    young, old = upload(world, hours_old=1), upload(world, hours_old=3)
    assert purge_unsent_attachments() == 1
    assert exists(young) == (True, True) and exists(old) == (False, False)
    assert purge_unsent_attachments(now=timezone.now() + timedelta(hours=2)) == 1
    assert exists(young) == (False, False)


def test_a_file_outside_the_tenants_folder_is_never_deleted(world, outsider):
    """Whatever a row says, the purge deletes files only under its own tenant's folder."""
    theirs = upload(outsider, hours_old=1)  # fresh: outsider's own purge leaves it
    ours = upload(world, hours_old=30)
    with scopes_disabled():
        Attachment.objects.filter(pk=ours.pk).update(file=theirs.file.name)
    assert purge_unsent_attachments() == 1
    with scopes_disabled():
        assert not Attachment.objects.filter(pk=ours.pk).exists()
    assert exists(theirs) == (True, True)


def test_beat_runs_the_task(world):
    entry = django_settings.CELERY_BEAT_SCHEDULE["attachments-unsent-purge"]
    assert entry["task"] == "support.purge_unsent_attachments"
    from config.celery import app

    assert "support.purge_unsent_attachments" in app.tasks
    gone = upload(world, hours_old=25)
    assert purge_unsent_attachments_task.apply().get() == 1
    assert exists(gone) == (False, False)


def race_the_purge(send, inserted: threading.Event, release: threading.Event) -> BaseException | None:
    """Run ``send`` in a thread; once it has inserted its message (``inserted``) but not committed,
    purge, then let it commit (``release``). Returns what the send raised, or None."""
    outcome: list[BaseException | None] = []

    def sender() -> None:
        try:
            send()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)
        finally:
            inserted.set()
            connection.close()

    thread = threading.Thread(target=sender)
    thread.start()
    assert inserted.wait(10)
    assert purge_unsent_attachments() == 1
    release.set()
    thread.join(10)
    assert len(outcome) == 1
    return outcome[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_send_racing_the_purge_never_points_at_a_deleted_file(require_postgres, world):
    """PostgreSQL checks the message's foreign key at commit, under a key-share lock on the upload's
    row: a send still in flight when the purge takes the row fails at commit instead of leaving a
    message whose file is gone; a send committed first keeps its upload."""
    racing, early = upload(world, hours_old=30), upload(world, hours_old=30)
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    send(world, early)
    inserted, release = threading.Event(), threading.Event()

    def send_and_wait() -> None:
        with scope(tenant=world.tenant), transaction.atomic():
            post_message(conversation=conv, author_type="contact", kind="attachment", attachment=racing)
            inserted.set()
            release.wait(10)

    assert isinstance(race_the_purge(send_and_wait, inserted, release), IntegrityError)
    assert exists(racing) == (False, False)
    assert exists(early) == (True, True)
    with scope(tenant=world.tenant):
        assert not Message.objects.filter(attachment_id=racing.pk).exists()
        assert Message.objects.filter(conversation=conv).count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_send_losing_the_race_to_the_purge_is_told_the_upload_is_gone(require_postgres, world, monkeypatch):
    """The same race, with the send in its own transaction (as a socket send is): the foreign key
    fails at the send's commit, and the sender gets "No such attachment" (as for any unknown
    upload), not an internal error. (The send's COMMIT travels with its writes; here it is left to
    the block's exit, so that the purge can come in between — the commit that fails and what
    follows are the same.)"""
    from support.errors import NotFound
    from support.services import message_batch as messages_service

    monkeypatch.setattr(messages_service, "_commits_on_exit", lambda connection: False)

    racing = upload(world, hours_old=30)
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    inserted, release = threading.Event(), threading.Event()
    real_run = messages_service.run_together

    def write_then_wait(statements):
        found = real_run(statements)
        if statements[0].sql.startswith("INSERT"):  # the writes' round trip, inside the send's transaction
            inserted.set()
            release.wait(10)
        return found

    monkeypatch.setattr(messages_service, "run_together", write_then_wait)

    def send() -> None:
        with scope(tenant=world.tenant):
            post_message(conversation=conv, author_type="contact", kind="attachment", attachment=racing,
                         client_id="c-race")

    raised = race_the_purge(send, inserted, release)
    assert isinstance(raised, NotFound), raised
    assert str(raised.detail) == "No such attachment"
    with scope(tenant=world.tenant):
        assert Message.objects.filter(conversation=conv).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_send_of_an_upload_deleted_before_its_commit_is_told_the_upload_is_gone(world):
    """The foreign key checked by the commit that travels with the writes (PostgreSQL; SQLite at
    the block's exit): an upload whose row went before the send committed refuses that send alone,
    with "No such attachment", and the other sends of its batch are stored."""
    from support.errors import NotFound
    from support.services.message_batch import PostResult, SendRequest, post_messages

    gone, kept = upload(world, hours_old=1), upload(world, hours_old=1)
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    with scopes_disabled():
        Attachment.objects.filter(pk=gone.pk).delete()  # the instance in hand still names it

    def sending(attachment: Attachment | None, client_id: str) -> SendRequest:
        return SendRequest(to=ConversationRef(world.tenant.pk, pk=conv.pk), author_type="contact", body="x",
                           kind="attachment" if attachment else "text", attachment=attachment, client_id=client_id)

    results = post_messages([sending(None, "c-1"), sending(gone, "c-2"), sending(kept, "c-3")])
    assert isinstance(results[1], NotFound) and str(results[1].detail) == "No such attachment"
    assert [(r.message.seq, r.created) for r in results if isinstance(r, PostResult)] == [(1, True), (2, True)]
    with scope(tenant=world.tenant):
        stored = Message.objects.filter(conversation=conv).order_by("seq").values_list("client_id", "attachment_id")
        assert list(stored) == [("c-1", None), ("c-3", kept.pk)]
