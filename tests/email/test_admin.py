"""Refused mail is kept for platform staff only; a tenant's mail log is its own."""
from __future__ import annotations

import pytest
from django.urls import reverse

from support.models import RejectedMail, User
from support.services.inbound_email import MailRejected, receive_mail

pytestmark = pytest.mark.django_db


def test_staff_download_the_raw_bytes_of_refused_mail_and_tenants_cannot(client, world):
    with pytest.raises(MailRejected):
        receive_mail(raw=b"garbage without headers", recipients=["acme@in.example"], route="http")
    kept = RejectedMail.objects.get()
    url = reverse("admin:support_rejectedmail_raw", args=[kept.pk])
    client.force_login(world.owner.user)
    assert client.get(url).status_code in (302, 403, 404)
    assert client.get(reverse("admin:support_rejectedmail_changelist")).status_code == 403
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    response = client.get(url)
    assert response.status_code == 200 and response.content == b"garbage without headers"
    assert client.get(reverse("admin:support_rejectedmail_change", args=[kept.pk])).status_code == 200


def test_owners_add_forwarded_addresses_and_one_address_has_one_tenant(client, world, outsider):
    from django_scopes import scopes_disabled

    from support.models import EmailAlias

    client.force_login(world.owner.user)
    url = reverse("admin:support_emailalias_add")
    assert client.post(url, {"address": "help@acme.example"}).status_code == 302
    client.force_login(outsider.owner.user)
    response = client.post(url, {"address": "Help@ACME.example"})
    assert response.status_code == 200 and "already" in response.content.decode().lower()
    with scopes_disabled():
        assert list(EmailAlias.objects.values_list("tenant_id", "address")) == [(world.tenant.pk, "help@acme.example")]
