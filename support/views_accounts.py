"""Account pages: sign-up, throttled sign-in, password reset, invitations, team and workspace switch.

Views only validate input and call ``support.services.accounts``; every refusal is a message on
the page (or a 404 for ids that are not the user's), never a 500.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_scopes import scope

from support.access import access_invitation, memberships_of
from support.client_address import request_address_group
from support.errors import DomainError, NotFound, ValidationFailed
from support.forms import AcceptInvitationForm, EmailAuthenticationForm, FinishSignupForm, InviteForm, SignupForm
from support.language import django_code, remember_language
from support.middleware import SESSION_TENANT_KEY
from support.models import Invitation, Membership, User
from support.services import accounts
from support.sign_in_throttle import AttemptThrottle, SignInThrottle, is_known_device, remember_device, wait_text

_BACKEND = "django.contrib.auth.backends.ModelBackend"


def too_many(request: HttpRequest, seconds: int, *, message: str, hint: str = "") -> HttpResponse:
    response = render(request, "accounts/throttled.html", {"message": message, "hint": hint}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _link_unusable(request: HttpRequest, exc: ValidationFailed, *, template: str) -> HttpResponse:
    """An emailed link that cannot be used: 404 if it never could, 410 if it could once."""
    return render(request, template, {"reason": exc.detail}, status=404 if exc.code == "invalid" else 410)


def _safe_next(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def _choose_tenant(request: HttpRequest, membership: Membership) -> None:
    request.session[SESSION_TENANT_KEY] = membership.tenant.public_id


# --- Sign-up, sign-in ------------------------------------------------------------------------

def signup(request: HttpRequest) -> HttpResponse:
    """Step one: the same answer whether or not the email has an account (the email differs)."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Each request sends an email: limited per address and per email like password resets.
        throttle = AttemptThrottle(action="signup", ip=request_address_group(request), email=form.cleaned_data["email"])
        wait = throttle.retry_after()
        if wait:
            return too_many(request, wait, message=_("Too many sign-up requests. Try again in %(wait)s.")
                            % {"wait": wait_text(wait)})
        try:
            accounts.request_sign_up(
                company_name=form.cleaned_data["company_name"], name=form.cleaned_data["name"],
                email=form.cleaned_data["email"], website=form.cleaned_data["website"],
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.detail)
        else:
            throttle.record()
            return redirect("signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


def signup_finish(request: HttpRequest, token: str) -> HttpResponse:
    """Step two, behind the emailed link: choose a password; the workspace is created and signed in."""
    try:
        pending = accounts.read_signup_link(token)
    except accounts.SignupLinkUnusable as exc:
        return _link_unusable(request, exc, template="accounts/signup_unusable.html")
    context: dict[str, Any] = {"email": pending.email}
    form = FinishSignupForm(request.POST or None, email=pending.email,
                            initial={"company_name": pending.company_name, "name": pending.name})
    if request.method == "POST" and form.is_valid():
        try:
            membership = accounts.sign_up(
                company_name=form.cleaned_data["company_name"], name=form.cleaned_data["name"],
                email=pending.email, password=form.cleaned_data["password"], website=pending.website,
            )
        except ValidationFailed as exc:
            if exc.code == "email_taken":  # finished already (or a second link): only this address learns it
                context["login_url"] = reverse("login")
            form.add_error("password" if exc.code == "weak_password" else None, exc.detail)
        else:
            auth_login(request, membership.user, backend=_BACKEND)
            _choose_tenant(request, membership)
            response = redirect("/app/setup")  # a new workspace starts with the first-run checklist
            remember_device(request, response, email=membership.user.email)
            return response
    context["form"] = form
    return render(request, "accounts/signup_finish.html", context, status=400 if form.errors else 200)


def login(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, settings.LOGIN_REDIRECT_URL)
    form = EmailAuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        email = str(request.POST.get("username", ""))[:254].strip()
        throttle = SignInThrottle(
            ip=request_address_group(request), email=email, known_device=is_known_device(request, email=email)
        )
        refusal = throttle.refusal()
        if refusal:
            return too_many(request, refusal.seconds, message=refusal.message, hint=refusal.hint)
        if form.is_valid():
            throttle.succeeded()
            user = form.get_user()
            auth_login(request, user)
            _after_login_tenant(request, user, next_url)
            response = HttpResponseRedirect(next_url)
            remember_device(request, response, email=user.email)
            return response
        throttle.failed()
    return render(request, "accounts/login.html", {"form": form, "next": next_url},
                  status=400 if form.errors else 200)


def _after_login_tenant(request: HttpRequest, user: User, next_url: str) -> None:
    """Going to the admin, start in a workspace the user administers (if any)."""
    if not next_url.startswith("/admin/") or user.is_staff:
        return
    for membership in memberships_of(user):
        if membership.is_admin:
            _choose_tenant(request, membership)
            return


@csrf_exempt  # signed-in requests are checked below; an anonymous switch only sets a cookie
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switch: saved on the signed-in user and in the language cookie; "" follows the browser.

    Anonymous pages carry no CSRF token (so they stay identical for everyone, as sign-up's answer
    must); for them the switch sets only the cookie. A signed-in user's choice is saved, behind CSRF.
    """
    if request.user.is_authenticated:
        return _set_user_language(request)
    return _apply_language(request)


@csrf_protect
def _set_user_language(request: HttpRequest) -> HttpResponse:
    return _apply_language(request)


def _apply_language(request: HttpRequest) -> HttpResponse:
    asked = str(request.POST.get("language", ""))[:20]
    code = django_code(asked)
    if asked and not code:
        return HttpResponse("Unknown language.", status=400, content_type="text/plain")
    if request.user.is_authenticated:
        accounts.set_user_language(user=request.user, language=code)  # type: ignore[arg-type]
    response = HttpResponseRedirect(_safe_next(request, "/"))
    remember_language(response, code)
    return response


class LogoutView(auth_views.LogoutView):
    next_page = "login"


# --- Password reset --------------------------------------------------------------------------

class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Each request may send an email: throttle it like sign-in so it cannot be used to spam.
        throttle = AttemptThrottle(action="reset", ip=request_address_group(request))
        wait = throttle.retry_after()
        if wait:
            return too_many(request, wait, message=_("Too many password reset requests. Try again in %(wait)s.")
                            % {"wait": wait_text(wait)})
        throttle.record()
        return super().post(request, *args, **kwargs)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_email_context = {"site_url": settings.SITE_URL}  # links in the email use SITE_URL


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Resetting proves the browser's owner reads the account's email: like a sign-in, it makes
        # this a known device, exempt from the per-account sign-in limit.
        remember_device(self.request, response, email=form.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Invitations -----------------------------------------------------------------------------

def accept_invite(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = accounts.find_invitation(token)
    except accounts.InvitationUnusable as exc:
        return _link_unusable(request, exc, template="accounts/invite_unusable.html")
    context: dict[str, Any] = {"invitation": invitation, "tenant": invitation.tenant}
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership = accounts.accept_invitation(token=token, user=request.user)  # type: ignore[arg-type]
            except DomainError as exc:
                context["error"] = exc.detail
                return render(request, "accounts/invite.html", context, status=400)
            _choose_tenant(request, membership)
            messages.success(request, _("Welcome to %(name)s.") % {"name": membership.tenant.name})
            return redirect(settings.LOGIN_REDIRECT_URL)
        context["wrong_user"] = request.user.email.lower() != invitation.email.lower()  # type: ignore[union-attr]
        return render(request, "accounts/invite.html", context)
    if User.objects.filter(email__iexact=invitation.email).exists():
        context["login_url"] = reverse("login") + "?next=" + request.path
        return render(request, "accounts/invite.html", context)
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = accounts.accept_invitation_as_new_user(
                token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"]
            )
        except DomainError as exc:
            form.add_error("password" if exc.code == "weak_password" else None, exc.detail)
        else:
            auth_login(request, membership.user, backend=_BACKEND)
            _choose_tenant(request, membership)
            return redirect(settings.LOGIN_REDIRECT_URL)
    context["form"] = form
    return render(request, "accounts/invite.html", context, status=400 if form.errors else 200)


def _admin_membership(request: HttpRequest) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None or not membership.is_admin:
        # Agents and strangers learn nothing about the page: same as a missing one.
        raise Http404("Only owners and admins manage the team")
    return membership


@login_required
def team(request: HttpRequest) -> HttpResponse:
    membership = _admin_membership(request)
    tenant = membership.tenant
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                issued = accounts.invite_member(
                    tenant=tenant, invited_by=membership, email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": issued.invitation.email})
                return redirect("accounts_team")
        status = 400
    with scope(tenant=tenant):
        members = list(Membership.objects.filter(tenant=tenant).select_related("user").order_by("role", "created_at"))
        pending = list(Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True).order_by("-created_at"))
    return render(request, "accounts/team.html", {
        "tenant": tenant, "membership": membership, "members": members, "pending": pending, "form": form,
        "can_manage": {inv.public_id: accounts.may_manage(membership, inv.role) for inv in pending},
        "now": timezone.now(),
    }, status=status)


@login_required
@require_POST
def revoke_invite(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = _admin_membership(request)
    try:
        invitation = access_invitation(membership.tenant, public_id, pending=False)
    except NotFound:
        raise Http404("No such invitation") from None
    try:
        accounts.revoke_invitation(invitation=invitation, actor=membership)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
    return redirect("accounts_team")


# --- Workspaces ------------------------------------------------------------------------------

@login_required
def workspaces(request: HttpRequest) -> HttpResponse:
    current = getattr(request, "membership", None)
    return render(request, "accounts/workspaces.html", {
        "memberships": memberships_of(request.user),  # type: ignore[arg-type]
        "current": current.tenant.public_id if current else None,
    })


@login_required
@require_POST
def switch_tenant(request: HttpRequest, public_id: str) -> HttpResponse:
    for membership in memberships_of(request.user):  # type: ignore[arg-type]
        if membership.tenant.public_id == public_id:
            _choose_tenant(request, membership)
            return HttpResponseRedirect(_safe_next(request, settings.LOGIN_REDIRECT_URL))
    raise Http404("No such workspace")
