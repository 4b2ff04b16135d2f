"""Audited access functions: the only way views, consumers and the API fetch tenant objects.

Each starts from the tenant, so another tenant's id finds nothing. Missing and foreign ids raise
the same ``NotFound``; callers turn it into a 404 or an ``error`` frame with code ``not_found``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_scopes import scopes_disabled

from support.errors import NotFound
from support.models import Contact, Conversation, Membership, Tenant, User
from support.payloads import CONVERSATION_RELATED


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


def lock_conversation(
    tenant: Tenant, public_id: object, *, contact: Contact | None = None, annotate: Mapping[str, Any] | None = None
) -> Conversation:
    """``access_conversation`` (or, given a contact, ``access_conversation_for_contact``) and the
    row lock in one statement: call inside the transaction that changes the conversation.

    What its inbox row shows (contact, assignee, team, last message) comes with it; only the
    conversation's own row is locked. ``annotate`` adds values read by the same statement.
    """
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound("No such conversation")
    query = (
        Conversation.objects.with_scope(tenant=tenant)
        .select_for_update(of=("self",))
        .select_related(*CONVERSATION_RELATED)
        .filter(tenant=tenant, public_id=public_id)
    )
    if annotate:
        query = query.annotate(**annotate)
    if contact is not None:
        query = query.filter(contact=contact)
    try:
        conv = query.get()
    except Conversation.DoesNotExist:
        raise NotFound("No such conversation") from None
    conv.tenant = tenant  # already in hand: no read when the caller needs it
    return conv


def access_member(tenant: Tenant, public_id: object) -> Membership:
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound("No such agent")
    try:
        return Membership.objects.with_scope(tenant=tenant).select_related("user").get(
            tenant=tenant, public_id=public_id, is_active=True
        )
    except Membership.DoesNotExist:
        raise NotFound("No such agent") from None
