"""Audited access functions: the only way views, consumers and the API fetch tenant objects by
their outside (public) id.

Each starts from the tenant, so another tenant's id finds nothing. Missing and foreign ids raise
the same ``NotFound``; callers turn it into a 404 or an ``error`` frame with code ``not_found``.
A lookup by public id that has no function of its own here goes through ``by_public_id``.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Model, Prefetch, Q, QuerySet
from django_scopes import scopes_disabled

from support.errors import NotFound
from support.models import (
    ApiToken,
    Attachment,
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
from support.payloads import CONVERSATION_RELATED, MESSAGE_RELATED
from support.row_select import JoinedSelect, joined_select


def memberships_of(user: User) -> list[Membership]:
    """All active memberships of a user, across tenants (the one deliberately unscoped read)."""
    if not user.is_authenticated:
        return []
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, is_active=True).select_related("tenant", "user").order_by("created_at")
        )


def access_membership(user: User, tenant_public_id: str | None = None) -> Membership | None:
    """The user's membership in the given tenant (or their first one)."""
    for membership in memberships_of(user):
        if tenant_public_id is None or membership.tenant.public_id == tenant_public_id:
            return membership
    return None


def access_tenant_by_widget_key(widget_key: str) -> Tenant:
    if not isinstance(widget_key, str) or not widget_key or len(widget_key) > 40:
        raise NotFound("Unknown widget key")
    try:
        return Tenant.objects.get(widget_key=widget_key)
    except Tenant.DoesNotExist:
        raise NotFound("Unknown widget key") from None


def access_tenant(public_id: object) -> Tenant:
    """A tenant by its public id, as a signed token or a payment provider's reference names it."""
    if not isinstance(public_id, str) or not public_id or len(public_id) > PUBLIC_ID_MAX_CHARS:
        raise NotFound("No such tenant")
    try:
        return Tenant.objects.get(public_id=public_id)
    except Tenant.DoesNotExist:
        raise NotFound("No such tenant") from None


def access_conversation(tenant: Tenant, public_id: object) -> Conversation:
    conversations = Conversation.objects.with_scope(tenant=tenant).select_related("contact", "assignee__user", "team")
    return by_public_id(conversations, public_id, tenant=tenant, what="conversation")


def access_conversation_for_contact(contact: Contact, public_id: object) -> Conversation:
    """A visitor reaches only their own contact's conversations."""
    conv = access_conversation(contact.tenant, public_id)
    if conv.contact_id != contact.pk:
        raise NotFound("No such conversation")
    return conv


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """A conversation as a sender names it: in a tenant, by pk or public id; for a contact, only
    their own."""

    tenant_id: int
    pk: int | None = None
    public_id: str | None = None
    contact_id: int | None = None

    def where(self) -> Q:
        where = Q(tenant_id=self.tenant_id)
        where &= Q(pk=self.pk) if self.pk is not None else Q(public_id=self.public_id)
        if self.contact_id is not None:
            where &= Q(contact_id=self.contact_id)
        return where

    def reaches(self, conv: Conversation) -> bool:
        """The same test in Python, for a row that several refs' statement returned."""
        return (
            conv.tenant_id == self.tenant_id
            and (conv.pk == self.pk if self.pk is not None else conv.public_id == self.public_id)
            and (self.contact_id is None or conv.contact_id == self.contact_id)
        )


def lock_conversations(
    refs: Collection[ConversationRef], *, extra: Sequence[tuple[str, str]] = (), extra_params: Sequence[Any] = ()
) -> list[Conversation]:
    """The conversations the refs reach, row-locked by one statement in pk order (so batches
    that share rows never deadlock): call inside the transaction that changes them.

    A lone ref's access check (its tenant, and its contact) is part of the statement. Several refs
    are read by their ids alone within their tenants (one ``IN`` per column), so a row may be
    returned (and locked, never written) for a ref that does not reach it: always match refs to
    rows with ``ConversationRef.reaches``. What the inbox row shows of other rows comes with them
    (contact, assignee, team), except the last message, which the caller is about to replace
    (``load_last_messages`` reads it when it is kept); only the conversations' own rows are locked.
    ``extra`` adds values read by the same statement (``row_select.select_joined``). Hand-written
    SQL, the same statement as the ORM's ``select_for_update(of=("self",)).select_related(…)`` but
    not compiled again per call; unscoped because a batch spans tenants: every branch of the filter
    names its tenant.
    """
    if not refs:
        return []
    query = lock_query(refs, extra=extra, extra_params=extra_params)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(query.statement.sql, list(query.statement.params))
        return query.read(cursor.fetchall())


def lock_query(
    refs: Collection[ConversationRef], *, extra: Sequence[tuple[str, str]] = (), extra_params: Sequence[Any] = ()
) -> JoinedSelect:
    """``lock_conversations``'s statement (the same arguments, at least one ref), to run with the
    statements that follow it in one round trip (``support.round_trip``); ``read`` makes its rows
    the conversations."""
    connection = transaction.get_connection()
    where, params = _naming(refs)
    tail = ""
    if connection.features.has_select_for_update_of:
        tail = "FOR UPDATE OF t0"
    elif connection.features.has_select_for_update:
        tail = "FOR UPDATE"
    return joined_select(Conversation, _LOCKED_RELATED, where, params, extra=extra, extra_params=extra_params,
                         tail=tail)


# The last message's four joined tables were most of the lock statement's rows to fetch.
_LOCKED_RELATED = tuple(r for r in CONVERSATION_RELATED if not r.startswith("last_message__"))


def load_last_messages(convs: Iterable[Conversation]) -> None:
    """Set, with one read, the last message (and what its preview shows) of each conversation that
    has one not loaded yet: for ``conversation_payload`` of rows from ``lock_conversations``."""
    missing = {
        conv.last_message_id: conv for conv in convs
        if conv.last_message_id is not None and not Conversation.last_message.is_cached(conv)
    }
    if not missing:
        return
    with scopes_disabled():  # the ids come from rows the caller holds
        found = Message.objects.select_related(*MESSAGE_RELATED).in_bulk(list(missing))
    for pk, conv in missing.items():
        if pk in found:
            conv.last_message = found[pk]


def _naming(refs: Collection[ConversationRef]) -> tuple[str, list[Any]]:
    """The rows the refs name (SQL on ``t0``, and its parameters): exactly what a lone ref reaches;
    for several, a superset."""
    if len(refs) == 1:
        ref = next(iter(refs))
        where = "t0.tenant_id = %s"
        where += " AND t0.id = %s" if ref.pk is not None else " AND t0.public_id = %s"
        params: list[Any] = [ref.tenant_id, ref.pk if ref.pk is not None else ref.public_id]
        if ref.contact_id is not None:
            where += " AND t0.contact_id = %s"
            params.append(ref.contact_id)
        return where, params
    tenants = sorted({ref.tenant_id for ref in refs})
    pks = sorted({ref.pk for ref in refs if ref.pk is not None})
    public_ids = sorted({ref.public_id for ref in refs if ref.pk is None and ref.public_id is not None})
    named = [f"t0.id IN ({_placeholders(pks)})"] if pks else []
    if public_ids:
        named.append(f"t0.public_id IN ({_placeholders(public_ids)})")
    if not named:
        return "FALSE", []
    return (f"t0.tenant_id IN ({_placeholders(tenants)}) AND ({' OR '.join(named)})",
            [*tenants, *pks, *public_ids])


def _placeholders(values: Collection[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def access_member(tenant: Tenant, public_id: object) -> Membership:
    """An active member, as an agent to assign or to act as."""
    members = Membership.objects.with_scope(tenant=tenant).select_related("user").filter(is_active=True)
    return by_public_id(members, public_id, tenant=tenant, what="agent")


# --- by public id: the one look-up ------------------------------------------------------------

M = TypeVar("M", bound=Model)

# Public ids are a short prefix and a random part; anything longer is no id of ours.
PUBLIC_ID_MAX_CHARS = 40


def by_public_id(queryset: QuerySet[M], public_id: object, *, tenant: Tenant | int, what: str) -> M:
    """The row of ``queryset`` in ``tenant`` with this public id, else ``NotFound("No such <what>")``,
    the same for an id of another tenant, a missing one, and one that is not an id at all."""
    if not isinstance(public_id, str) or not public_id or len(public_id) > PUBLIC_ID_MAX_CHARS:
        raise NotFound(f"No such {what}")
    try:
        return queryset.get(tenant=tenant, public_id=public_id)
    except ObjectDoesNotExist:
        raise NotFound(f"No such {what}") from None


def find_by_public_id(queryset: QuerySet[M], public_id: object, *, tenant: Tenant | int) -> M | None:
    """``by_public_id`` for an id from our own outbox event: the row, or None when it is gone."""
    try:
        return by_public_id(queryset, public_id, tenant=tenant, what="row")
    except NotFound:
        return None


def access_team(tenant: Tenant, public_id: object) -> Team:
    return by_public_id(team_queryset(tenant), public_id, tenant=tenant, what="team")


def team_queryset(tenant: Tenant) -> QuerySet[Team]:
    members = Prefetch("members", queryset=Membership.objects.with_scope(tenant=tenant).all(), to_attr="member_list")
    return Team.objects.with_scope(tenant=tenant).prefetch_related(members)


def access_label(tenant: Tenant, public_id: object) -> Label:
    return by_public_id(Label.objects.with_scope(tenant=tenant), public_id, tenant=tenant, what="label")


def access_contact(tenant: Tenant, public_id: object) -> Contact:
    return by_public_id(Contact.objects.with_scope(tenant=tenant), public_id, tenant=tenant, what="contact")


def access_canned(tenant: Tenant, public_id: object) -> CannedResponse:
    canned = CannedResponse.objects.with_scope(tenant=tenant)
    return by_public_id(canned, public_id, tenant=tenant, what="canned response")


def access_attachment(tenant: Tenant, public_id: object) -> Attachment:
    return by_public_id(Attachment.objects.with_scope(tenant=tenant), public_id, tenant=tenant, what="attachment")


def access_token(tenant: Tenant, public_id: object) -> ApiToken:
    tokens = ApiToken.objects.with_scope(tenant=tenant).select_related("created_by")
    return by_public_id(tokens, public_id, tenant=tenant, what="token")


def access_membership_any_state(tenant: Tenant, public_id: object) -> Membership:
    """A member to manage, deactivated ones included (team settings)."""
    members = Membership.objects.with_scope(tenant=tenant).select_related("user", "tenant")
    return by_public_id(members, public_id, tenant=tenant, what="member")


def access_invitation(tenant: Tenant, public_id: object, *, pending: bool) -> Invitation:
    """An invitation; with ``pending``, only one not accepted yet (expired ones included: they can
    still be revoked or resent)."""
    invitations = Invitation.objects.with_scope(tenant=tenant).select_related("tenant", "invited_by")
    if pending:
        invitations = invitations.filter(accepted_at__isnull=True)
    return by_public_id(invitations, public_id, tenant=tenant, what="invitation")
