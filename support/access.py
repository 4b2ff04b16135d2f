"""Audited access functions: the only way views, consumers and the API fetch tenant objects.

Each starts from the tenant, so another tenant's id finds nothing. Missing and foreign ids raise
the same ``NotFound``; callers turn it into a 404 or an ``error`` frame with code ``not_found``.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django_scopes import scopes_disabled

from support.errors import NotFound
from support.models import Contact, Conversation, Membership, Message, Tenant, User
from support.payloads import CONVERSATION_RELATED, MESSAGE_RELATED
from support.row_select import select_joined


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
    connection = transaction.get_connection()
    where, params = _naming(refs)
    tail = ""
    if connection.features.has_select_for_update_of:
        tail = "FOR UPDATE OF t0"
    elif connection.features.has_select_for_update:
        tail = "FOR UPDATE"
    return select_joined(Conversation, _LOCKED_RELATED, where, params, extra=extra, extra_params=extra_params,
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
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound("No such agent")
    try:
        return Membership.objects.with_scope(tenant=tenant).select_related("user").get(
            tenant=tenant, public_id=public_id, is_active=True
        )
    except Membership.DoesNotExist:
        raise NotFound("No such agent") from None
