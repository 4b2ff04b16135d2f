"""Audited access functions: the only way views, consumers and the API fetch tenant objects.

Each starts from the tenant, so another tenant's id finds nothing. Missing and foreign ids raise
the same ``NotFound``; callers turn it into a 404 or an ``error`` frame with code ``not_found``.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q
from django_scopes import scopes_disabled

from support.errors import NotFound
from support.models import Contact, Conversation, Membership, Message, Tenant, User
from support.payloads import CONVERSATION_RELATED, MESSAGE_RELATED


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


def access_conversation(tenant: Tenant, public_id: object) -> Conversation:
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound("No such conversation")
    try:
        return (
            Conversation.objects.with_scope(tenant=tenant)
            .select_related("contact", "assignee__user", "team")
            .get(tenant=tenant, public_id=public_id)
        )
    except Conversation.DoesNotExist:
        raise NotFound("No such conversation") from None


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
    refs: Collection[ConversationRef], *, annotate: Mapping[str, Any] | None = None
) -> list[Conversation]:
    """The conversations the refs reach, row-locked by one statement in pk order (so batches
    that share rows never deadlock): call inside the transaction that changes them.

    A lone ref's access check (its tenant, and its contact) is part of the statement. Several refs
    are read by their ids alone within their tenants (one ``IN`` per column: building an ``OR`` of a
    filter per ref was a sixth of a busy server's samples), so a row may be returned (and locked,
    never written) for a ref that does not reach it: always match refs to rows with
    ``ConversationRef.reaches``. What the
    inbox row shows of other rows comes with them (contact, assignee, team), except the last
    message, which the caller is about to replace (``load_last_messages`` reads it when it is
    kept); only the conversations' own rows are locked. ``annotate`` adds values read by the same
    statement. Unscoped because a batch spans tenants: every branch of the filter names its tenant.
    """
    if not refs:
        return []
    with scopes_disabled():
        query = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related(*_LOCKED_RELATED)
            .filter(_naming(refs))
            .order_by("pk")
        )
        if annotate:
            query = query.annotate(**annotate)
        return list(query)


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


def _naming(refs: Collection[ConversationRef]) -> Q:
    """The rows the refs name: exactly what a lone ref reaches; for several, a superset."""
    if len(refs) == 1:
        return next(iter(refs)).where()
    pks = {ref.pk for ref in refs if ref.pk is not None}
    public_ids = {ref.public_id for ref in refs if ref.pk is None}
    named = reduce(or_, [q for q in (Q(pk__in=pks) if pks else None,
                                     Q(public_id__in=public_ids) if public_ids else None) if q is not None])
    return Q(tenant_id__in={ref.tenant_id for ref in refs}) & named


def access_member(tenant: Tenant, public_id: object) -> Membership:
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound("No such agent")
    try:
        return Membership.objects.with_scope(tenant=tenant).select_related("user").get(
            tenant=tenant, public_id=public_id, is_active=True
        )
    except Membership.DoesNotExist:
        raise NotFound("No such agent") from None
