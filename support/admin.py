"""Admin pages of the support domain (tenant-scoped through ``support.admin_base``).

Tenant owners/admins see their own workspace only; platform staff see all. Conversations and
memberships change only through their services, so the admin keeps the same rules, history
events and outbox events as every other client.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from support.admin_base import MissingIs404Mixin, TenantScopedAdmin, TenantScopedAdminForm
from support.admin_fields import BusinessHoursField
from support.admin_ids import OpaqueIdAdminMixin, PublicIdModelMultipleChoiceField
from support.admin_site import PlatformStaffReadOnlyMixin, is_platform_staff, tenant_admin_membership
from support.errors import DomainError
from support.forms import TenantSettingsForm
from support.models import (
    CannedResponse,
    Contact,
    Conversation,
    Invitation,
    Label,
    Membership,
    Message,
    Team,
    Tenant,
    User,
)
from support.services import accounts, conversations, install_check

# --- Tenants: "widget settings" for tenant admins ---------------------------------------------


class TenantAdminForm(TenantSettingsForm):
    business_hours = BusinessHoursField(label="Business hours")


@admin.register(Tenant)
class TenantAdmin(OpaqueIdAdminMixin, MissingIs404Mixin, admin.ModelAdmin):
    """Staff: all tenants. A tenant's owners/admins: their own "workspace settings" page only."""

    form = TenantAdminForm
    list_display = ["name", "slug", "public_id", "identity_verification", "created_at"]
    search_fields = ["name", "slug", "public_id"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "public_id"]}),
        (_("Widget"), {"fields": ["greeting", "greetings", "team_name", "color", "position", "prechat_form"]}),
        (_("Opening hours"), {"fields": ["time_zone", "business_hours"]}),
        (_("Embedding and identity"), {"fields": [
            "embed_snippet", "allowed_origins", "identity_verification", "widget_key", "identity_secret_display",
        ]}),
        (_("Agents"), {"fields": ["default_capacity"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        qs = super().get_queryset(request)
        if is_platform_staff(request):
            return qs
        membership = tenant_admin_membership(request)
        return qs.filter(pk=membership.tenant_id) if membership else qs.none()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["public_id", "embed_snippet", "widget_key", "identity_secret_display"]
        if not is_platform_staff(request):
            fields.append("slug")  # the slug names the tenant in URLs and logs: staff-only
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # staff adding a tenant: the generated values do not exist yet
            return [(None, {"fields": ["name", "slug"]}), *self.fieldsets[1:-2], self.fieldsets[-1]]
        return self.fieldsets

    @admin.display(description=_("Embed snippet"))
    def embed_snippet(self, obj: Tenant) -> str:
        return format_html("<code>{}</code><p class='help'>Paste before &lt;/body&gt; on your site.</p>",
                           install_check.snippet(tenant=obj))

    @admin.display(description=_("Identity secret"))
    def identity_secret_display(self, obj: Tenant) -> str:
        # Shown on request only: it signs visitor identities, so it should not sit on screen.
        return format_html(
            "<details><summary>Show secret</summary><code>{}</code></details>"
            "<p class='help'>Your server signs a signed-in visitor's id with this (HMAC-SHA256) so the "
            "widget can trust who they are. Keep it on your server; never put it in web pages.</p>",
            obj.identity_secret,
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A tenant has exactly one row here: take them straight to their settings.
        membership = tenant_admin_membership(request)
        if membership is not None and not is_platform_staff(request):
            return HttpResponseRedirect(reverse("admin:support_tenant_change", args=[membership.tenant]))
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> Any:
        if tenant_admin_membership(request) is not None:
            extra_context = {**(extra_context or {}), "title": _("Workspace settings")}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) if is_platform_staff(request) \
            else tenant_admin_membership(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request):
            return super().has_view_permission(request, obj)
        return self._own(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request):
            return super().has_change_permission(request, obj)
        return self._own(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request) and super().has_delete_permission(request, obj)

    def _own(self, request: HttpRequest, obj: Tenant | None) -> bool:
        membership = tenant_admin_membership(request)
        return membership is not None and (obj is None or obj.pk == membership.tenant_id)


# --- Users -----------------------------------------------------------------------------------

class SwitchboardUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class MemberNameForm(forms.ModelForm):
    """All a tenant admin may change on a user: how their name is shown."""

    class Meta:
        model = User
        fields = ["display_name", "first_name", "last_name"]


@admin.register(User)
class UserAdmin(OpaqueIdAdminMixin, MissingIs404Mixin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name", "first_name", "last_name", "public_id"]
    add_form = SwitchboardUserCreationForm
    fieldsets = [
        (None, {"fields": ["email", "password", "public_id"]}),
        ("Name", {"fields": ["display_name", "first_name", "last_name"]}),
        ("Platform rights", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    member_fieldsets = [
        (None, {"fields": ["email", "public_id"]}),
        ("Name", {"fields": ["display_name", "first_name", "last_name"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request)
        if is_platform_staff(request):
            return qs
        membership = tenant_admin_membership(request)
        if membership is None:
            return qs.none()
        return qs.filter(memberships__tenant_id=membership.tenant_id).distinct()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_platform_staff(request):
            return super().get_fieldsets(request, obj)
        return self.member_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_platform_staff(request):
            return ["public_id", "last_login", "date_joined"]
        return ["email", "public_id"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if not is_platform_staff(request):
            kwargs["form"] = MemberNameForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_list_display(self, request: HttpRequest) -> Any:
        return self.list_display if is_platform_staff(request) else ["email", "display_name"]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self.list_filter if is_platform_staff(request) else []

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        # Setting someone's password is a platform-staff power, never a tenant admin's.
        if not is_platform_staff(request):
            raise Http404("No such page")
        return super().user_change_password(request, id, form_url)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) if is_platform_staff(request) \
            else tenant_admin_membership(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) if is_platform_staff(request) \
            else tenant_admin_membership(request) is not None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) if is_platform_staff(request) \
            else tenant_admin_membership(request) is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request) and super().has_delete_permission(request, obj)


# --- Memberships (agents) ----------------------------------------------------------------------

class MembershipForm(TenantScopedAdminForm):
    """Role, active flag, capacity and teams, checked against the role rules before saving."""

    actor: Membership | None = None  # set per request; None for platform staff
    # Not called "teams": the admin would mistake it for the reverse relation of that name.
    team_memberships: forms.ModelMultipleChoiceField = PublicIdModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, label="Teams",
        widget=FilteredSelectMultiple("teams", is_stacked=False),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = self.fields.get("team_memberships")
        if isinstance(teams, forms.ModelMultipleChoiceField) and self.instance.pk:
            teams.queryset = Team.objects.filter(tenant_id=self.instance.tenant_id).order_by("name")
            teams.initial = list(self.instance.teams.all())
        role = self.fields.get("role")
        if isinstance(role, forms.ChoiceField) and self.actor is not None and self.actor.role != Membership.Role.OWNER:
            role.choices = [
                (value, label) for value, label in Membership.Role.choices if value != Membership.Role.OWNER
            ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk and not self.errors:
            current = Membership.objects.select_related("tenant").get(pk=self.instance.pk)
            try:
                accounts.check_membership_change(
                    membership=current, actor=self.actor,
                    role=cleaned.get("role", current.role), is_active=cleaned.get("is_active", current.is_active),
                    capacity=cleaned.get("capacity"),
                )
            except DomainError as exc:
                raise forms.ValidationError(exc.detail) from None
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    form = MembershipForm
    list_display = ["user", "user_email", "role", "is_active", "capacity", "availability", "team_names"]
    list_filter = ["role", "is_active", "teams"]
    search_fields = ["user__email", "user__display_name", "public_id"]
    fields = ["user", "public_id", "role", "is_active", "capacity", "team_memberships", "availability", "created_at"]
    readonly_fields = ["user", "public_id", "availability", "created_at"]
    # Members join by sign-up or invitation and leave by deactivation (seats are metered from
    # those events), so the admin neither adds nor deletes them.
    tenant_permissions = frozenset({"view", "change"})
    actions: list[Any] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user").prefetch_related("teams")

    @admin.display(description=_("Email"), ordering="user__email")
    def user_email(self, obj: Membership) -> str:
        return obj.user.email

    @admin.display(description=_("Teams"))
    def team_names(self, obj: Membership) -> str:
        return ", ".join(team.name for team in obj.teams.all())

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": tenant_admin_membership(request)})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        actor = tenant_admin_membership(request)
        # An admin sees owners but cannot edit them.
        return obj is None or actor is None or accounts.may_manage(actor, obj.role)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        accounts.update_membership(
            membership=obj, actor=tenant_admin_membership(request), role=form.cleaned_data["role"],
            is_active=form.cleaned_data["is_active"], capacity=form.cleaned_data["capacity"],
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if "team_memberships" in form.changed_data:
            form.instance.teams.set(form.cleaned_data["team_memberships"])


# --- Teams, labels, canned responses, contacts ---------------------------------------------------

@admin.register(Team)
class TeamAdmin(TenantScopedAdmin):
    list_display = ["name", "public_id", "member_count"]
    search_fields = ["name", "public_id"]
    fields = ["name", "members"]
    filter_horizontal = ["members"]

    @admin.display(description=_("Members"))
    def member_count(self, obj: Team) -> int:
        return obj.members.count()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "members" and field is not None:
            field.queryset = field.queryset.select_related("user")
        return field


@admin.register(Label)
class LabelAdmin(TenantScopedAdmin):
    list_display = ["name", "color", "public_id"]
    search_fields = ["name"]
    fields = ["name", "color"]


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantScopedAdmin):
    list_display = ["shortcut_display", "title"]
    search_fields = ["shortcut", "title", "body"]
    fields = ["shortcut", "title", "body"]

    @admin.display(description=_("Shortcut"), ordering="shortcut")
    def shortcut_display(self, obj: CannedResponse) -> str:
        return f"/{obj.shortcut}"


@admin.register(Contact)
class ContactAdmin(TenantScopedAdmin):
    list_display = ["__str__", "email", "verified", "created_at", "last_seen_at"]
    search_fields = ["name", "email", "public_id"]
    list_filter = ["created_at"]
    fields = ["public_id", "name", "email", "external_id", "attributes", "context", "created_at", "last_seen_at"]
    readonly_fields = ["public_id", "external_id", "context", "created_at", "last_seen_at"]
    # Contacts are created by the widget and the API; the admin corrects or erases them.
    tenant_permissions = frozenset({"view", "change", "delete"})

    @admin.display(boolean=True, description=_("Verified"))
    def verified(self, obj: Contact) -> bool:
        return obj.external_id is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- Conversations -------------------------------------------------------------------------------

TRANSCRIPT_LIMIT = 100


def _author(message: Message, conv: Conversation) -> str:
    if message.author_type == Message.Author.AGENT:
        member = message.author_membership
        return member.user.name if member else "Agent"
    if message.author_type == Message.Author.CONTACT:
        return str(conv.contact)
    return "System"


def _body(message: Message) -> str:
    if message.kind == Message.Kind.NOTE:
        return f"(internal note) {message.body}"
    if message.kind == Message.Kind.EVENT:
        return str(message.data.get("event", "event")).replace("_", " ")
    if message.kind == Message.Kind.ATTACHMENT:
        return message.body or "(attachment)"
    return message.body


class ConversationForm(TenantScopedAdminForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("status") == Conversation.Status.SNOOZED and not cleaned.get("snoozed_until"):
            self.add_error("snoozed_until", "Say until when to snooze.")
        assignee = cleaned.get("assignee")
        if assignee is not None and not assignee.is_active:
            self.add_error("assignee", "That agent is deactivated.")
        return cleaned


@admin.register(Conversation)
class ConversationAdmin(TenantScopedAdmin):
    """Read-mostly: status, assignee, team and labels change through the conversation services."""

    form = ConversationForm
    list_display = ["public_id", "contact", "status", "assignee", "team", "updated_at"]
    list_filter = ["status", "assignee", "team", "labels"]
    search_fields = ["public_id", "subject", "contact__name", "contact__email"]
    list_select_related = ["contact", "assignee__user", "team"]
    fields = [
        "public_id", "contact", "subject", "status", "snoozed_until", "assignee", "team", "labels",
        "created_at", "last_message_at", "first_response_at", "resolved_at", "rating", "rating_comment",
        "transcript",
    ]
    readonly_fields = [
        "public_id", "contact", "subject", "created_at", "last_message_at", "first_response_at", "resolved_at",
        "rating", "rating_comment", "transcript",
    ]
    filter_horizontal = ["labels"]
    actions = ["mark_resolved", "mark_open"]
    tenant_permissions = frozenset({"view", "change"})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # conversations start from the widget or the API

    @admin.display(description=_("Messages"))
    def transcript(self, obj: Conversation) -> str:
        """The latest messages, read-only (an inline would put message pks in the page)."""
        messages_ = list(
            Message.objects.filter(conversation=obj).select_related("author_membership__user")
            .order_by("-seq")[:TRANSCRIPT_LIMIT]
        )
        if not messages_:
            return "No messages yet."
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td style='white-space:pre-wrap'>{}</td></tr>", (
            (date_format(localtime(m.created_at), "SHORT_DATETIME_FORMAT"), _author(m, obj), _body(m))
            for m in reversed(messages_)
        ))
        more = obj.last_seq - len(messages_) if obj.last_seq > len(messages_) else 0
        note = format_html("<p class='help'>Only the latest {} are shown.</p>", len(messages_)) if more else ""
        return format_html("<table><thead><tr><th>When</th><th>Who</th><th>Message</th></tr></thead>"
                           "<tbody>{}</tbody></table>{}", rows, note)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "assignee" and field is not None:
            field.queryset = field.queryset.filter(is_active=True).select_related("user")
        return field

    def save_model(self, request: HttpRequest, obj: Conversation, form: Any, change: bool) -> None:
        actor = tenant_admin_membership(request)
        conv = Conversation.objects.select_related("tenant").get(pk=obj.pk)
        data, changed = form.cleaned_data, set(form.changed_data)
        if "assignee" in changed:
            conv = conversations.assign_conversation(conversation=conv, assignee=data["assignee"], actor=actor)
        if "team" in changed:
            conv = conversations.set_team(conversation=conv, team=data["team"], actor=actor)
        if changed & {"status", "snoozed_until"}:
            conv = conversations.set_status(
                conversation=conv, status=data["status"], actor=actor, snoozed_until=data.get("snoozed_until"),
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # No form.save_m2m(): labels go through the service. The message inline is view-only, so
        # saving its formset writes nothing (Django's change message needs it to have run).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        if "labels" in form.changed_data:
            conversations.set_labels(
                conversation=form.instance, labels=list(form.cleaned_data["labels"]),
                actor=tenant_admin_membership(request),
            )

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Conversation], status: str) -> None:
        actor = tenant_admin_membership(request)
        done = 0
        for conv in queryset:
            try:
                conversations.set_status(conversation=conv, status=status, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{conv.public_id}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        marked = ngettext("%(count)d conversation marked %(status)s.",
                          "%(count)d conversations marked %(status)s.", done)
        label = str(Conversation.Status(status).label).lower()
        self.message_user(request, marked % {"count": done, "status": label}, messages.SUCCESS)

    @admin.action(description=_("Mark selected conversations resolved"), permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Conversation.Status.RESOLVED)

    @admin.action(description=_("Reopen selected conversations"), permissions=["change"])
    def mark_open(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Conversation.Status.OPEN)


# --- Invitations ---------------------------------------------------------------------------------

@admin.register(Invitation)
class InvitationAdmin(TenantScopedAdmin):
    """Pending and past invitations; deleting one revokes it. New ones are sent from /accounts/team/."""

    list_display = ["email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email", "public_id"]
    readonly_fields = ["public_id", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    fields = list(readonly_fields)
    tenant_permissions = frozenset({"view", "delete"})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.accepted_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Invitation) -> None:
        accounts.revoke_invitation(invitation=obj, actor=tenant_admin_membership(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        for invitation in queryset.filter(accepted_at__isnull=True):
            try:
                accounts.revoke_invitation(invitation=invitation, actor=tenant_admin_membership(request))
            except DomainError as exc:
                self.message_user(request, f"{invitation.email}: {exc.detail}", messages.ERROR)


# --- The change log (who changed what, when) -------------------------------------------------

@admin.register(LogEntry)
class LogEntryAdmin(PlatformStaffReadOnlyMixin, MissingIs404Mixin, admin.ModelAdmin):
    """Every admin change, for platform staff. Tenant admins use each object's History page,
    which only opens for their own objects."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change_message"]
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "change_message", "user__email"]
    date_hierarchy = "action_time"


# API tokens and the email channel's pages register themselves from their own modules.
from support import admin_api, admin_email  # noqa: E402,F401
