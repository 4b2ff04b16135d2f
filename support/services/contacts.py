"""Creating and updating contacts; each change writes a ``contact.*`` outbox event."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from support.errors import ValidationFailed
from support.events.outbox import emit_event
from support.models import Contact, Tenant
from support.payloads import contact_payload

_ATTRIBUTES_MAX_KEYS = 50


def _clean(*, name: str | None, email: str | None, attributes: dict[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if len(name) > 120:
            raise ValidationFailed(_("name is longer than 120 characters"), code="invalid_name")
        fields["name"] = name
    if email is not None:
        email = email.strip().lower()
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                raise ValidationFailed(_("email is not a valid address"), code="invalid_email") from None
        fields["email"] = email
    if attributes is not None:
        if not isinstance(attributes, dict) or len(attributes) > _ATTRIBUTES_MAX_KEYS:
            raise ValidationFailed(
                _("attributes must be an object of at most %(n)d keys") % {"n": _ATTRIBUTES_MAX_KEYS},
                code="invalid_attributes",
            )
        fields["attributes"] = attributes
    return fields


@transaction.atomic
def create_contact(
    *, tenant: Tenant, name: str = "", email: str = "", attributes: dict[str, Any] | None = None
) -> Contact:
    fields = _clean(name=name, email=email, attributes=attributes if attributes is not None else {})
    contact = Contact.objects.with_scope(tenant=tenant).create(tenant=tenant, **fields)
    emit_event(tenant=tenant, type="contact.created", payload={"contact": contact_payload(contact)},
               ordering_key=contact.public_id)
    return contact


@transaction.atomic
def update_contact(
    *,
    contact: Contact,
    name: str | None = None,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
    merge_attributes: bool = True,
) -> Contact:
    """Change the given fields; ``attributes`` are merged into the existing ones unless told otherwise."""
    fields = _clean(name=name, email=email, attributes=attributes)
    if "attributes" in fields and merge_attributes:
        merged = {**contact.attributes, **fields["attributes"]}
        if len(merged) > _ATTRIBUTES_MAX_KEYS:
            raise ValidationFailed(
                _("A contact has at most %(n)d attributes") % {"n": _ATTRIBUTES_MAX_KEYS}, code="invalid_attributes"
            )
        fields["attributes"] = merged
    changed = [key for key, value in fields.items() if getattr(contact, key) != value]
    if not changed:
        return contact
    for key in changed:
        setattr(contact, key, fields[key])
    contact.save(update_fields=changed)
    emit_event(tenant=contact.tenant, type="contact.updated",
               payload={"contact": contact_payload(contact), "changed": changed}, ordering_key=contact.public_id)
    return contact
