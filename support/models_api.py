"""API tokens and idempotency keys of the REST API.

A token is shown once at creation as ``sb_<prefix>_<secret>``; only the prefix (to find the row and
to show in lists) and the SHA-256 of the secret are stored. The secret has ~190 bits of entropy,
so a fast hash is enough: there is nothing to brute-force.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from support.fields import PublicIdField
from support.models import Membership, TenantOwned


class ApiToken(TenantOwned):
    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    public_id = PublicIdField(prefix="tok")
    name = models.CharField(verbose_name=_("name"), max_length=80)
    prefix = models.CharField(verbose_name=_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(verbose_name=_("secret hash"), max_length=64, editable=False)
    scope = models.CharField(verbose_name=_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apitoken_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} (sb_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE


class IdempotencyKey(TenantOwned):
    """One ``Idempotency-Key`` of one caller (a token, or a signed-in member).

    The conditional unique constraints make the first insert win when two requests with the same
    key arrive together: the loser sees the row and answers 409 (or replays once it is done).
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method + path + body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=11, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["token", "key"], condition=Q(token__isnull=False), name="idem_unique_token_key"
            ),
            models.UniqueConstraint(
                fields=["membership", "key"], condition=Q(membership__isnull=False), name="idem_unique_member_key"
            ),
            models.CheckConstraint(
                condition=Q(token__isnull=False, membership__isnull=True)
                | Q(token__isnull=True, membership__isnull=False),
                name="idem_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idem_expires")]

    def __str__(self) -> str:
        return self.key
