"""The support domain's tables.

Every tenant-owned model carries ``tenant`` and uses a django-scopes ``ScopedManager``: a query
made without an active tenant scope raises ``ScopeError`` instead of silently crossing tenants
(see docs/architecture.md, "Tenant isolation"). Only ``support.services`` changes these rows.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_scopes import ScopedManager

from support.fields import PublicIdField
from support.ids import new_secret, opaque_id


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in: a tenant's agent/admin/owner, or platform staff (``is_staff``).

    Tenant rights come from ``Membership``; ``is_staff`` here means *platform* staff only.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    public_id = PublicIdField(prefix="us")
    display_name = models.CharField(verbose_name=_("display name"), max_length=80, blank=True)
    # The language of the pages and emails this user reads (one of settings.LANGUAGES); blank
    # follows the browser. Set from the language switch (support/language.py).
    language = models.CharField(verbose_name=_("language"), max_length=10, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]
    objects = UserManager()  # type: ignore[misc,assignment]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.email.split("@")[0]


# Marked for translation only (gettext_noop): stored as written, shown translated (Tenant.greeting_for).
DEFAULT_GREETING = gettext_noop("Hi! How can we help you today?")


def _widget_key() -> str:
    return opaque_id("wk", 24)


class Tenant(models.Model):
    """A company that uses Switchboard. Not itself scoped: it *is* the scope."""

    class Verification(models.TextChoices):
        OFF = "off", _("Off")
        OPTIONAL = "optional", _("Optional (verified visitors are linked to their contact)")
        REQUIRED = "required", _("Required (unverified visitors cannot chat)")

    class Position(models.TextChoices):
        RIGHT = "right", _("Bottom right")
        LEFT = "left", _("Bottom left")

    public_id = PublicIdField(prefix="tn")
    name = models.CharField(verbose_name=_("name"), max_length=100)
    slug = models.SlugField(verbose_name=_("slug"), max_length=50, unique=True)
    widget_key = models.CharField(
        verbose_name=_("widget key"), max_length=40, unique=True, default=_widget_key, editable=False)
    identity_secret = models.CharField(
        verbose_name=_("identity secret"), max_length=64, default=new_secret, editable=False)
    identity_verification = models.CharField(
        verbose_name=_("identity verification"), max_length=10, choices=Verification.choices,
        default=Verification.OPTIONAL
    )
    allowed_origins = models.JSONField(
        verbose_name=_("allowed origins"), default=list, blank=True,
        help_text=_("Origins allowed to embed the widget, e.g. https://example.com")
    )
    # Widget settings
    greeting = models.CharField(verbose_name=_("greeting"), max_length=280, default=DEFAULT_GREETING)
    # The greeting per visitor language ({"zh-hans": "您好！…"}); a language without one gets
    # ``greeting``, or the default greeting's translation while ``greeting`` is the default.
    greetings = models.JSONField(verbose_name=_("greetings"), default=dict, blank=True)
    team_name = models.CharField(verbose_name=_("team name"), max_length=60, blank=True)
    color = models.CharField(verbose_name=_("color"), max_length=7, default="#4f46e5")
    position = models.CharField(
        verbose_name=_("position"), max_length=5, choices=Position.choices, default=Position.RIGHT)
    prechat_form = models.BooleanField(
        verbose_name=_("prechat form"), default=False, help_text=_("Ask visitors for name and email first"))
    time_zone = models.CharField(verbose_name=_("time zone"), max_length=64, default="UTC")
    business_hours = models.JSONField(
        verbose_name=_("business hours"), default=dict,
        blank=True,
        help_text='Weekly opening hours, e.g. {"mon": [["09:00", "17:00"]], ...}; empty means always open',
    )
    default_capacity = models.PositiveSmallIntegerField(verbose_name=_("default capacity"), default=5)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")

    def __str__(self) -> str:
        return self.name

    def greeting_for(self, language: str) -> str:
        """The widget's greeting for a visitor reading ``language`` (a code of settings.LANGUAGES)."""
        own = (self.greetings or {}).get(language) if isinstance(self.greetings, dict) else None
        if isinstance(own, str) and own.strip():
            return own
        if self.greeting == DEFAULT_GREETING:
            with translation.override(language):
                return translation.gettext(DEFAULT_GREETING)
        return self.greeting


class TenantOwned(models.Model):
    """Base for every row that belongs to one tenant."""

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True


class Membership(TenantOwned):
    """A user's place in a tenant. One user may belong to several tenants."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        AGENT = "agent", _("Agent")

    class Availability(models.TextChoices):
        AVAILABLE = "available", _("Available")
        AWAY = "away", _("Away")

    public_id = PublicIdField(prefix="ag")
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(verbose_name=_("role"), max_length=5, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    capacity = models.PositiveSmallIntegerField(
        verbose_name=_("capacity"), default=5, help_text=_("Most open conversations at once"))
    availability = models.CharField(
        verbose_name=_("availability"), max_length=9, choices=Availability.choices, default=Availability.AVAILABLE,
        help_text=_("Set by the agent; presence is online only when available and connected"),
    )
    notification_prefs = models.JSONField(verbose_name=_("notification prefs"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Team(TenantOwned):
    public_id = PublicIdField(prefix="tm")
    name = models.CharField(verbose_name=_("name"), max_length=80)
    members = models.ManyToManyField(Membership, verbose_name=_("members"), related_name="teams", blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class Label(TenantOwned):
    public_id = PublicIdField(prefix="lb")
    name = models.CharField(verbose_name=_("name"), max_length=50)
    color = models.CharField(verbose_name=_("color"), max_length=7, default="#64748b")

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="label_unique_name")]

    def __str__(self) -> str:
        return self.name


class CannedResponse(TenantOwned):
    public_id = PublicIdField(prefix="cr")
    shortcut = models.SlugField(
        verbose_name=_("shortcut"), max_length=40, help_text=_("Typed as /shortcut in the composer"))
    title = models.CharField(verbose_name=_("title"), max_length=80, blank=True)
    body = models.TextField(verbose_name=_("body"), max_length=5000)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        constraints = [models.UniqueConstraint(fields=["tenant", "shortcut"], name="canned_unique_shortcut")]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class Contact(TenantOwned):
    """A visitor of the tenant's site, anonymous or identified."""

    public_id = PublicIdField(prefix="ct")
    name = models.CharField(verbose_name=_("name"), max_length=120, blank=True)
    email = models.EmailField(verbose_name=_("email"), blank=True)
    # Set only from a verified identity (HMAC of the host site's user id).
    external_id = models.CharField(verbose_name=_("external id"), max_length=128, null=True, blank=True)
    attributes = models.JSONField(verbose_name=_("attributes"), default=dict, blank=True)
    # What the widget last reported: current page, browser, timezone, language.
    context = models.JSONField(verbose_name=_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=Q(external_id__isnull=False),
                name="contact_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Visitor {self.public_id[-6:]}"


class Conversation(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    class Channel(models.TextChoices):
        CHAT = "chat", _("Chat")
        EMAIL = "email", _("Email")

    public_id = PublicIdField(prefix="cv")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(verbose_name=_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        Membership, verbose_name=_("assignee"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_conversations"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    labels = models.ManyToManyField(Label, verbose_name=_("labels"), blank=True, related_name="conversations")
    subject = models.CharField(verbose_name=_("subject"), max_length=200, blank=True)
    # Highest seq allocated; bumped under this row's lock by post_message.
    last_seq = models.BigIntegerField(verbose_name=_("last seq"), default=0)
    contact_last_read_seq = models.BigIntegerField(verbose_name=_("contact last read seq"), default=0)
    agent_last_read_seq = models.BigIntegerField(verbose_name=_("agent last read seq"), default=0)
    # Set while the conversation waits for an agent with free capacity (auto-assignment queue).
    queued_at = models.DateTimeField(verbose_name=_("queued at"), null=True, blank=True)
    # The agent it was last taken away from (unassigned by them or by an admin): auto-assignment
    # does not hand it straight back to them. Cleared by the next assignment.
    released_by = models.ForeignKey(
        Membership, verbose_name=_("released by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("Auto-assignment skips this agent (they were just unassigned from it)"),
    )
    offline = models.BooleanField(
        verbose_name=_("offline"), default=False, help_text=_("Started while no agent was online"))
    snoozed_until = models.DateTimeField(verbose_name=_("snoozed until"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(verbose_name=_("rating"), null=True, blank=True)
    rating_comment = models.TextField(verbose_name=_("rating comment"), blank=True, max_length=1000)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=timezone.now)
    last_message_at = models.DateTimeField(verbose_name=_("last message at"), null=True, blank=True)
    # The newest message that is not an event (what the inbox row previews), set by post_message
    # in the message's own transaction.
    last_message = models.ForeignKey(
        "Message", verbose_name=_("last message"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
        help_text=_("The newest message other than an event (the inbox preview)"),
    )
    first_response_at = models.DateTimeField(verbose_name=_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)
    # How agents' replies reach the visitor: live in the widget (chat, with a digest email when
    # they are away) or one email per reply (conversations that began by email, or switched to it).
    channel = models.CharField(verbose_name=_("channel"), max_length=5, choices=Channel.choices, default=Channel.CHAT)
    # Where email replies go: the sender of the mail that started or last joined it.
    email_address = models.EmailField(verbose_name=_("email address"), blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["tenant", "status", "-updated_at"], name="conv_tenant_status_upd"),
            models.Index(fields=["tenant", "-updated_at"], name="conv_tenant_upd"),
            models.Index(fields=["tenant", "assignee", "status"], name="conv_tenant_assignee"),
            models.Index(fields=["tenant", "queued_at"], name="conv_tenant_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} · {self.public_id}"


class Attachment(TenantOwned):
    public_id = PublicIdField(prefix="at")
    file = models.FileField(
        verbose_name=_("file"), upload_to="attachments/%Y/%m/")  # real path set by services (tenant first)
    name = models.CharField(verbose_name=_("name"), max_length=200)
    content_type = models.CharField(verbose_name=_("content type"), max_length=100)
    size = models.PositiveIntegerField(verbose_name=_("size"))
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Message(TenantOwned):
    class Author(models.TextChoices):
        AGENT = "agent", _("Agent")
        CONTACT = "contact", _("Contact")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NOTE = "note", _("Internal note")
        EVENT = "event", _("Event")
        ATTACHMENT = "attachment", _("Attachment")

    public_id = PublicIdField(prefix="msg")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    client_id = models.CharField(max_length=64, null=True, blank=True)
    author_type = models.CharField(max_length=7, choices=Author.choices)
    author_membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    attachment = models.ForeignKey(Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # For kind=event: {"event": "assigned", ...}
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} (#{self.seq})"  # opaque: admin logs and history show this

    @property
    def visible_to_contact(self) -> bool:
        return self.kind != self.Kind.NOTE


class Invitation(TenantOwned):
    """An emailed invitation to join a tenant. Only a hash of the token is stored."""

    public_id = PublicIdField(prefix="inv")
    email = models.EmailField(verbose_name=_("email"))
    role = models.CharField(
        verbose_name=_("role"), max_length=5, choices=Membership.Role.choices, default=Membership.Role.AGENT)
    token_hash = models.CharField(verbose_name=_("token hash"), max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, verbose_name=_("invited by"), null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    accepted_at = models.DateTimeField(verbose_name=_("accepted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant}"


from support.models_api import *  # noqa: E402,F401,F403
from support.models_email import *  # noqa: E402,F401,F403


class WidgetSighting(TenantOwned):
    """A site the widget snippet ran on: whether the tenant's allowed origins let it load there.

    Written by ``support.services.install_check`` (deduplicated and bounded per tenant); read by the
    dashboard's install check. ``status`` is the latest outcome for the origin."""

    class Status(models.TextChoices):
        INSTALLED = "installed", _("Installed")
        REFUSED = "refused", _("Refused")

    origin = models.CharField(max_length=200)
    status = models.CharField(max_length=9, choices=Status.choices)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "origin"], name="sighting_unique_origin")]

    def __str__(self) -> str:
        return f"{self.origin} ({self.status})"
