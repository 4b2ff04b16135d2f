"""MQTT credentials issued to visitors and agents: what the broker was told, so it can be undone."""
from __future__ import annotations

from django.db import models
from django_scopes import ScopedManager

from support.models import ApiToken, Contact, Membership, Tenant

__all__ = ["MqttCredential"]


class MqttCredential(models.Model):
    """One broker client (username = MQTT client id) of a contact or a membership, until ``expires_at``.

    The password is never stored: the broker keeps its hash. A row is deleted once the broker has
    forgotten the client (expiry or revocation), so every row is a client the broker may still know.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, editable=False)
    username = models.CharField(max_length=40, unique=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL)
    #: The API token an integration obtained an agent's credentials with: revoking it revokes them.
    api_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    base_topic = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="mqtt_credential_expiry")]

    def __str__(self) -> str:
        return self.username
