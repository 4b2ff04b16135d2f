"""The outbox in the admin: dead letters with their error, filters, and the replay action."""
from __future__ import annotations

from django.utils import timezone
from django_scopes import scopes_disabled

from support.events import dispatcher, handlers
from support.events.models import OutboxDelivery
from support.models import User
from tests.outbox.conftest import emit

URL = "/admin/events/outboxdelivery/"


def make_dead(world, register, name: str):
    def fail(event):
        raise ValueError(f"endpoint said no for {event.tenant.slug}")

    if name not in handlers.REGISTRY:
        register(fail, events=["t.admin"], max_attempts=1, name=name)
    emit(world.tenant, "t.admin")
    dispatcher.drain(now=timezone.now())
    with scopes_disabled():
        return OutboxDelivery.objects.filter(tenant=world.tenant, handler=name).get()


def test_staff_filter_dead_letters_see_the_error_and_replay(client, world, outsider, register):
    dead = make_dead(world, register, "test.admin_fail")
    theirs = make_dead(outsider, register, "test.admin_fail")
    assert dead.status == theirs.status == "dead"
    staff = User.objects.create_user("ops@platform.example", "pw-Staff-Secret1", is_staff=True, is_superuser=True)
    client.force_login(staff)

    page = client.get(URL, {"status__exact": "dead", "handler": "test.admin_fail"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "ValueError: endpoint said no for acme" in text and "for globex" in text
    assert client.get(f"{URL}{dead.pk}/change/").status_code == 200

    response = client.post(URL, {"action": "replay", "_selected_action": [dead.pk]}, follow=True)
    assert "Queued 1 deliveries again." in response.content.decode()
    with scopes_disabled():
        dead.refresh_from_db()
        theirs.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert theirs.status == "dead"


def test_tenant_owners_have_no_outbox_pages_only_their_webhook_log(client, world, outsider, register):
    mine = make_dead(world, register, "test.admin_fail2")
    client.force_login(world.owner.user)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/events/outboxdelivery/" not in index.content.decode()
    assert "/admin/push/webhookdelivery/" in index.content.decode()
    for url in (URL, "/admin/events/outboxevent/", f"{URL}{mine.pk}/change/"):
        assert client.get(url).status_code in (403, 404), url

    client.post(URL, {"action": "replay", "_selected_action": [mine.pk]})
    with scopes_disabled():
        mine.refresh_from_db()
    assert mine.status == "dead"
