"""Our email addresses and Message-IDs: each tenant's support address, the signed reply address
of a conversation, and the Message-IDs we give the mail we send.

A reply address is ``reply+<conversation id>.<mac>@INBOUND_EMAIL_DOMAIN``: the MAC is Django's
``salted_hmac`` (keyed by ``SECRET_KEY``) over the tenant's and the conversation's public ids, so
it is bound to both and cannot be made without the key. It is lower-case hex and short, because
mail systems may fold the case of local parts and limit them to 64 characters.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac
from django_scopes import scopes_disabled

from support.models import Conversation, EmailAlias, Message, Tenant

_SALT = "support.mail.reply-address"
_MAC_CHARS = 24  # 96 bits
REPLY_LOCAL = "reply"


def enabled() -> bool:
    return bool(settings.INBOUND_EMAIL_DOMAIN)


def tenant_address(tenant: Tenant) -> str:
    return f"{tenant.slug}@{settings.INBOUND_EMAIL_DOMAIN}"


def _mac(tenant_public_id: str, conversation_public_id: str) -> str:
    value = f"{tenant_public_id}:{conversation_public_id}"
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()[:_MAC_CHARS]


def reply_token(conversation: Conversation) -> str:
    return f"{conversation.public_id}.{_mac(conversation.tenant.public_id, conversation.public_id)}"


def reply_address(conversation: Conversation) -> str:
    return f"{REPLY_LOCAL}+{reply_token(conversation)}@{settings.INBOUND_EMAIL_DOMAIN}"


def message_id_for(message: Message) -> str:
    """The stable Message-ID (without brackets) of the email that carries ``message``."""
    return f"{message.public_id}@{settings.INBOUND_EMAIL_DOMAIN}"


def digest_message_id(conversation: Conversation, up_to_seq: int) -> str:
    return f"digest.{conversation.public_id}.{up_to_seq}@{settings.INBOUND_EMAIL_DOMAIN}"


def is_ours(message_id: str) -> bool:
    """A Message-ID we made (a mail of ours that came back is a loop)."""
    return enabled() and message_id.lower().endswith("@" + settings.INBOUND_EMAIL_DOMAIN)


class UnknownRecipient(LookupError):
    """Not an address of ours (or a reply address whose token is forged or foreign)."""


@dataclass(frozen=True)
class Recipient:
    tenant: Tenant
    conversation: Conversation | None  # set for a reply address: the conversation it answers


def resolve_recipient(address: str) -> Recipient:
    """The tenant (and, for a reply address, the conversation) an envelope recipient names.

    ``<slug>@domain`` and the tenant's forwarded addresses name the tenant; ``reply+<token>@domain``
    and ``<slug>+<token>@domain`` name a conversation, and the token must be valid for it and (in
    the second form) for that tenant. Anything else raises ``UnknownRecipient``.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    if not local:
        raise UnknownRecipient(address)
    if domain != settings.INBOUND_EMAIL_DOMAIN or not enabled():
        with scopes_disabled():  # the address names the tenant: nothing is known before it
            alias = EmailAlias.objects.select_related("tenant").filter(address__iexact=address.strip()).first()
        if alias is None:
            raise UnknownRecipient(address)
        return Recipient(alias.tenant, None)
    base, _, token = local.partition("+")
    tenant: Tenant | None = None
    if base != REPLY_LOCAL:
        tenant = Tenant.objects.filter(slug=base).first()
        if tenant is None:
            raise UnknownRecipient(address)
        if not token:
            return Recipient(tenant, None)
    if not token:
        raise UnknownRecipient(address)
    conversation = _conversation_of(token, tenant)
    return Recipient(conversation.tenant, conversation)


def _conversation_of(token: str, tenant: Tenant | None) -> Conversation:
    public_id, _, mac = token.rpartition(".")
    if not public_id or len(mac) != _MAC_CHARS:
        raise UnknownRecipient(token)
    with scopes_disabled():  # found by its id, then checked against the MAC that binds its tenant
        conversation = Conversation.objects.select_related("tenant").filter(public_id=public_id).first()
    if conversation is None or (tenant is not None and conversation.tenant_id != tenant.pk):
        raise UnknownRecipient(token)
    expected = _mac(conversation.tenant.public_id, conversation.public_id)
    if not hmac.compare_digest(expected, mac):
        raise UnknownRecipient(token)
    return conversation
