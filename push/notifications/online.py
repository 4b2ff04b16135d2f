"""Is someone connected right now? (Presence is kept by ``push.presence``; this only asks it.)"""
from __future__ import annotations

from push import presence
from support.models import Contact, Membership


def agent_connected(membership: Membership) -> bool:
    return presence.is_connected(tenant_id=membership.tenant_id, kind="agent", subject_id=membership.pk)


def contact_connected(contact: Contact) -> bool:
    return presence.is_connected(tenant_id=contact.tenant_id, kind="contact", subject_id=contact.pk)
