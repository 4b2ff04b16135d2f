"""Accounts: signing a company up, inviting members, accepting invitations, changing memberships.

Role rules (enforced here, whatever the caller):

* Owners manage everyone: they invite admins and agents, change any member's role (including
  making owners) and deactivate members.
* Admins invite admins and agents and manage admins and agents, but never touch an owner and never
  make anyone an owner.
* Agents manage nobody.
* Nobody — not even platform staff — can demote or deactivate a tenant's last active owner.
* Invitations grant admin or agent only; ownership is given by an owner to an existing member.

Seat-relevant changes emit outbox events (``membership.created``, ``membership.deactivated``,
``membership.reactivated``) with the tenant and membership public ids and the role, so billing can
meter seats without being called from here.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from support.errors import NotFound, PermissionDenied, ValidationFailed
from support.events.outbox import emit_event
from support.models import Invitation, Membership, Tenant, User
from support.plan_limits import check_can_add_seat
from support.services.install_check import website_origin

logger = logging.getLogger(__name__)

Role = Membership.Role
NAME_MAX = 80
COMPANY_MAX = 100
EMAIL_MAX = 254
INVITABLE_ROLES = (Role.ADMIN, Role.AGENT)


# --- Input hygiene ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_name(value: str, *, field: str, max_length: int) -> str:
    """Strip, drop control characters and refuse empty or overlong names.

    Markup is kept as text: templates escape it on output.
    """
    if not isinstance(value, str):
        raise ValidationFailed(_("%(field)s must be text") % {"field": field}, code="invalid_name")
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    if not value:
        raise ValidationFailed(_("%(field)s is required") % {"field": field}, code="invalid_name")
    if len(value) > max_length:
        raise ValidationFailed(_("%(field)s must be at most %(n)d characters") % {"field": field, "n": max_length},
                               code="invalid_name")
    return value


def clean_email(value: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(_("Enter a valid email address"), code="invalid_email")
    value = value.strip().lower()
    if len(value) > EMAIL_MAX:
        raise ValidationFailed(_("Email address is too long"), code="invalid_email")
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationFailed(_("Enter a valid email address"), code="invalid_email") from None
    return value


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), code="weak_password") from None


def membership_payload(membership: Membership) -> dict[str, str]:
    return {
        "tenant": membership.tenant.public_id,
        "membership": membership.public_id,
        "user": membership.user.public_id,
        "role": membership.role,
    }


def _emit_membership(membership: Membership, event_type: str) -> None:
    emit_event(
        tenant=membership.tenant, type=event_type, payload=membership_payload(membership),
        ordering_key=membership.public_id,
    )


# --- Sign-up ---------------------------------------------------------------------------------
#
# Sign-up never tells the visitor whether an email has an account. Step one (company, name,
# email) always answers "check your email"; the email decides: a new address gets a signed link
# to finish (password, then the workspace is created), an address with an account gets a note
# that someone tried, with sign-in and password-reset links. The link carries what step one
# entered, signed and timestamped: nothing is stored until the owner of the address finishes.

SIGNUP_LINK_HOURS = 24
_SIGNUP_SALT = "support.accounts.signup"


@dataclass(frozen=True)
class SignupRequest:
    """What step one entered, as carried by the emailed link."""

    email: str
    company_name: str
    name: str
    website: str = ""  # an origin (checked in step one), or empty


class SignupLinkUnusable(ValidationFailed):
    """The finish link was altered or is too old (``code`` ``invalid`` or ``expired``)."""


def request_sign_up(*, company_name: str, name: str, email: str, website: str = "") -> None:
    """Step one: email the address a link to finish, or — if it has an account — a note saying so."""
    company_name = clean_name(company_name, field=_("Company name"), max_length=COMPANY_MAX)
    name = clean_name(name, field=_("Your name"), max_length=NAME_MAX)
    email = clean_email(email)
    site = settings.SITE_URL
    if User.objects.filter(email__iexact=email).exists():
        subject = _("Someone tried to create a Switchboard account with your email")
        body = render_to_string("accounts/email/signup_existing.txt", {
            "email": email, "login_url": f"{site}/accounts/login/", "reset_url": f"{site}/accounts/password/reset/",
        })
    else:
        carried = {"e": email, "c": company_name, "n": name, "w": website_origin(website) if website else ""}
        token = signing.dumps(carried, salt=_SIGNUP_SALT, compress=True)
        subject = _("Finish creating your Switchboard workspace")
        body = render_to_string("accounts/email/signup_finish.txt", {
            "company_name": company_name, "url": f"{site}/accounts/signup/finish/{token}/",
            "hours": SIGNUP_LINK_HOURS,
        })
    try:
        send_mail(subject, body, None, [email])
    except Exception:  # noqa: BLE001 - the page says the same either way; they may ask again
        logger.exception("Could not email a sign-up link")


def read_signup_link(token: str) -> SignupRequest:
    """What a finish link carries, or ``SignupLinkUnusable``."""
    try:
        data = signing.loads(token, salt=_SIGNUP_SALT, max_age=timedelta(hours=SIGNUP_LINK_HOURS))
    except signing.SignatureExpired:
        raise SignupLinkUnusable(_("This link has expired. Start again to get a new one."), code="expired") from None
    except signing.BadSignature:
        raise SignupLinkUnusable(_("This link is not valid. Start again to get a new one."), code="invalid") from None
    return SignupRequest(email=data["e"], company_name=data["c"], name=data["n"], website=data.get("w", ""))


def unique_slug(name: str) -> str:
    """A slug for a new tenant: from its name, with a short random suffix when taken."""
    base = slugify(name)[:40].strip("-") or "team"
    slug = base
    while Tenant.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def sign_up(*, company_name: str, name: str, email: str, password: str, website: str = "") -> Membership:
    """Create a user, their company's tenant and the owner membership, all or nothing. ``website``
    (an address as typed) becomes the tenant's first allowed widget origin."""
    company_name = clean_name(company_name, field=_("Company name"), max_length=COMPANY_MAX)
    name = clean_name(name, field=_("Your name"), max_length=NAME_MAX)
    email = clean_email(email)
    origins = [website_origin(website)] if website else []
    user = User(email=email, display_name=name)
    _check_password(password, user)
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=email).exists():
                raise ValidationFailed(_("An account with this email already exists"), code="email_taken")
            user.set_password(password)
            user.save()
            tenant = Tenant.objects.create(name=company_name, slug=unique_slug(company_name),
                                           allowed_origins=origins)
            with scope(tenant=tenant):
                membership = Membership.objects.create(
                    tenant=tenant, user=user, role=Role.OWNER, capacity=tenant.default_capacity
                )
                emit_event(
                    tenant=tenant, type="tenant.created",
                    payload={"tenant": tenant.public_id, "name": tenant.name, "owner": user.public_id},
                    ordering_key=tenant.public_id,
                )
                _emit_membership(membership, "membership.created")
    except IntegrityError:
        # Two sign-ups with one email (or one slug) raced: the loser gets the same clear error.
        raise ValidationFailed(_("An account with this email already exists"), code="email_taken") from None
    return membership


# --- Role rules ------------------------------------------------------------------------------

def may_manage(actor: Membership | None, target_role: str) -> bool:
    """Whether ``actor`` may act on a member (or invitation) whose role is ``target_role``.

    ``None`` is platform staff (the admin site), who may manage anyone.
    """
    if actor is None:
        return True
    if not actor.is_active or not actor.is_admin:
        return False
    if actor.role == Role.OWNER:
        return True
    return target_role != Role.OWNER


def _require_manager(actor: Membership | None, tenant: Tenant, target_role: str) -> None:
    if actor is not None and actor.tenant_id != tenant.pk:
        raise NotFound(_("No such member"))
    if not may_manage(actor, target_role):
        raise PermissionDenied(_("Your role does not allow this"), code="forbidden")


def check_membership_change(
    *, membership: Membership, actor: Membership | None, role: str, is_active: bool, capacity: int | None = None
) -> None:
    """Raise ``PermissionDenied``/``ValidationFailed`` if the change breaks the role rules.

    Forms call it to show the reason next to the field; ``update_membership`` calls it again
    under the row locks.
    """
    tenant = membership.tenant
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role"), code="invalid_role")
    _require_manager(actor, tenant, membership.role)
    _require_manager(actor, tenant, role)
    if actor is not None and actor.pk == membership.pk and role != membership.role:
        raise PermissionDenied(_("You cannot change your own role"), code="forbidden")
    if capacity is not None and not 0 <= capacity <= 1000:
        raise ValidationFailed(_("Capacity must be between 0 and 1000"), code="invalid_capacity")
    losing_owner = membership.role == Role.OWNER and membership.is_active and (role != Role.OWNER or not is_active)
    if losing_owner:
        with scope(tenant=tenant):
            owners = Membership.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True)
            if not owners.exclude(pk=membership.pk).exists():
                raise ValidationFailed(_("A workspace needs at least one active owner"), code="last_owner")


@transaction.atomic
def update_membership(
    *,
    membership: Membership,
    actor: Membership | None,
    role: str | None = None,
    is_active: bool | None = None,
    capacity: int | None = None,
) -> Membership:
    """Change a member's role, active flag or capacity under the role rules above."""
    tenant = membership.tenant
    with scope(tenant=tenant):
        # Lock the tenant's owners first so two concurrent demotions cannot both pass the
        # last-owner check, then the member itself.
        list(Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER).values_list("pk"))
        current = Membership.objects.select_for_update().select_related("tenant", "user").get(pk=membership.pk)
        new_role = current.role if role is None else role
        new_active = current.is_active if is_active is None else is_active
        check_membership_change(
            membership=current, actor=actor, role=new_role, is_active=new_active, capacity=capacity
        )
        was_active = current.is_active
        current.role = new_role
        current.is_active = new_active
        if capacity is not None:
            current.capacity = capacity
        current.save(update_fields=["role", "is_active", "capacity"])
        if was_active and not new_active:
            _emit_membership(current, "membership.deactivated")
        elif new_active and not was_active:
            _emit_membership(current, "membership.reactivated")
    return current


# --- Invitations -----------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str  # holds the only copy of the token; it is emailed and never stored


def invite_member(*, tenant: Tenant, invited_by: Membership | None, email: str, role: str) -> IssuedInvitation:
    """Invite ``email`` to ``tenant`` as ``role`` and email them a link with a one-time token.

    A pending invitation to the same address is replaced (its old link stops working).
    """
    email = clean_email(email)
    if role not in INVITABLE_ROLES:
        raise ValidationFailed(_("Invite people as admin or agent"), code="invalid_role")
    _require_manager(invited_by, tenant, role)
    with transaction.atomic(), scope(tenant=tenant):
        # A deactivated member may be invited back (accepting reactivates their membership).
        if Membership.objects.filter(tenant=tenant, user__email__iexact=email, is_active=True).exists():
            raise ValidationFailed(_("This person is already a member of the workspace"), code="already_member")
        Invitation.objects.filter(tenant=tenant, email__iexact=email, accepted_at__isnull=True).delete()
        # Paid seats bound members + pending invitations; the error says how to add seats.
        check_can_add_seat(tenant=tenant)
        invitation = Invitation(tenant=tenant, email=email, role=role,
                                invited_by=invited_by.user if invited_by else None)
        return _send_link(invitation, sender=invited_by)


def resend_invitation(*, invitation: Invitation, actor: Membership | None) -> IssuedInvitation:
    """Email a pending invitation again, with a new link valid for ``INVITATION_TTL_HOURS`` from now.

    The token is never stored, so the old link cannot be sent again: it stops working. Whoever may
    revoke the invitation may resend it (an expired one too).
    """
    _require_manager(actor, invitation.tenant, invitation.role)
    with transaction.atomic(), scope(tenant=invitation.tenant):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise ValidationFailed(_("This invitation was already accepted"), code="used")
        return _send_link(locked, sender=actor)


def _send_link(invitation: Invitation, *, sender: Membership | None) -> IssuedInvitation:
    """Give ``invitation`` a new one-time token and expiry, save it and email the link after commit."""
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.expires_at = timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS)
    invitation.save()
    url = f"{settings.SITE_URL}/accounts/invite/{token}/"
    inviter = sender.user.name if sender else _("The Switchboard team")
    context = {"tenant": invitation.tenant, "inviter": inviter, "url": url, "role": invitation.get_role_display(),
               "hours": settings.INVITATION_TTL_HOURS}
    # Sent directly after commit rather than through the outbox: the token must never be
    # stored anywhere, and the outbox payload is stored.
    email = invitation.email
    transaction.on_commit(lambda: _send_invitation_email(email, context))
    return IssuedInvitation(invitation, url)


def _send_invitation_email(email: str, context: dict[str, object]) -> None:
    subject = _("You're invited to join %(tenant)s on Switchboard") % {"tenant": context["tenant"]}
    body = render_to_string("accounts/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [email])
    except Exception:  # noqa: BLE001 - the invitation stands; the inviter can send it again
        logger.exception("Could not email invitation for tenant %s", context["tenant"])


class InvitationUnusable(ValidationFailed):
    """The link is unknown, revoked, expired or already used (``code`` says which)."""


def find_invitation(token: str) -> Invitation:
    """The pending invitation a token belongs to, or ``InvitationUnusable``."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise InvitationUnusable(_("This invitation link is not valid, or it was revoked."), code="invalid")
    # The token is the capability and the tenant is not known yet: look up by its unique hash
    # across tenants (only this one row can match).
    with scopes_disabled():
        invitation = Invitation.objects.select_related("tenant").filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid, or it was revoked."), code="invalid")
    if invitation.accepted_at is not None:
        raise InvitationUnusable(_("This invitation has already been used."), code="used")
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(
            _("This invitation has expired. Ask the person who invited you to send a new one."), code="expired"
        )
    return invitation


def _join(invitation: Invitation, user: User) -> Membership:
    tenant = invitation.tenant
    with scope(tenant=tenant):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise InvitationUnusable(_("This invitation has already been used."), code="used")
        existing = Membership.objects.filter(tenant=tenant, user=user).first()
        if existing is not None and existing.is_active:
            raise ValidationFailed(_("You are already a member of this workspace"), code="already_member")
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        if existing is not None:
            existing.is_active = True
            existing.role = locked.role
            existing.save(update_fields=["is_active", "role"])
            _emit_membership(existing, "membership.reactivated")
            return existing
        membership = Membership.objects.create(
            tenant=tenant, user=user, role=locked.role, capacity=tenant.default_capacity
        )
        _emit_membership(membership, "membership.created")
        return membership


@transaction.atomic
def accept_invitation(*, token: str, user: User) -> Membership:
    """An existing, signed-in user accepts; the invitation must be addressed to their email."""
    invitation = find_invitation(token)
    if user.email.lower() != invitation.email.lower():
        raise ValidationFailed(
            _("This invitation is for %(email)s. Sign in with that address to accept it.")
            % {"email": invitation.email},
            code="wrong_user",
        )
    return _join(invitation, user)


def accept_invitation_as_new_user(*, token: str, name: str, password: str) -> Membership:
    """Someone without an account accepts: the account takes the invited email address."""
    invitation = find_invitation(token)
    name = clean_name(name, field=_("Your name"), max_length=NAME_MAX)
    user = User(email=invitation.email.lower(), display_name=name)
    _check_password(password, user)
    taken = ValidationFailed(_("You already have an account: sign in to accept"), code="email_taken")
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise taken
            user.set_password(password)
            user.save()
            return _join(invitation, user)
    except IntegrityError:
        raise taken from None  # the same address signed up a moment ago


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor: Membership | None) -> None:
    """Withdraw a pending invitation; its link stops working at once."""
    _require_manager(actor, invitation.tenant, invitation.role)
    with scope(tenant=invitation.tenant):
        if invitation.accepted_at is not None:
            raise ValidationFailed(_("This invitation was already accepted"), code="used")
        Invitation.objects.filter(pk=invitation.pk).delete()


# --- Preferences -----------------------------------------------------------------------------

def set_user_language(*, user: User, language: str) -> None:
    """The language this user reads pages and emails in: one of settings.LANGUAGES, or "" for the browser's."""
    if language and language not in {code for code, _name in settings.LANGUAGES}:
        raise ValidationFailed(_("Unknown language."))
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])


def set_availability(*, membership: Membership, status: str) -> None:
    """The agent sets themselves available or away (``Membership.Availability``); the realtime
    presence (push/presence.py) re-derives their status from it."""
    if status not in Membership.Availability.values:
        raise ValueError(f"status must be one of {tuple(Membership.Availability.values)}, got {status!r}")
    with transaction.atomic():
        Membership.objects.with_scope(tenant=membership.tenant_id).filter(pk=membership.pk).update(availability=status)
    membership.availability = status
