"""Forms of the account pages and of the tenant settings admin page.

Forms check shape (lengths, email syntax, password strength); the services in
``support.services.accounts`` re-check everything that matters and raise ``ValidationFailed``,
which views put back on the form.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from support.errors import ValidationFailed
from support.models import Membership, Tenant, User
from support.services import workspace
from support.services.accounts import COMPANY_MAX, EMAIL_MAX, INVITABLE_ROLES, NAME_MAX
from support.services.install_check import website_origin


class SignupForm(forms.Form):
    """Step one of sign-up. It never says whether the email has an account: the email does."""

    company_name = forms.CharField(label=_("Company name"), max_length=COMPANY_MAX)
    name = forms.CharField(label=_("Your name"), max_length=NAME_MAX)
    email = forms.EmailField(label=_("Work email"), max_length=EMAIL_MAX)
    website = forms.CharField(
        label=_("Your website"), max_length=200, required=False,
        widget=forms.TextInput(attrs={"placeholder": "https://example.com", "inputmode": "url"}),
        help_text=_("Where the chat widget will go. You can add more sites later."),
    )

    def clean_website(self) -> str:
        value = self.cleaned_data.get("website") or ""
        if not value.strip():
            return ""
        try:
            return website_origin(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.detail) from None


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), max_length=EMAIL_MAX,
                                widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=EMAIL_MAX)
    role = forms.ChoiceField(label=_("Role"), choices=[(r, Membership.Role(r).label) for r in INVITABLE_ROLES],
                             initial=Membership.Role.AGENT)


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=NAME_MAX)
    password = forms.CharField(label=_("Choose a password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("password"):
            try:
                password_validation.validate_password(
                    cleaned["password"], User(email=self.email, display_name=cleaned.get("name", ""))
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class FinishSignupForm(AcceptInvitationForm):
    """Step two of sign-up, behind the emailed link: the names (editable) and a password."""

    company_name = forms.CharField(label=_("Company name"), max_length=COMPANY_MAX)
    password = forms.CharField(
        label=_("Choose a password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=lazy(password_validation.password_validators_help_text_html, str)(),  # in the page's language
    )
    field_order = ["company_name", "name", "password"]


# --- Tenant (widget) settings ----------------------------------------------------------------

class OriginsField(forms.CharField):
    """Allowed widget origins, one per line (``https://example.com`` or with a port)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        origins: list[str] = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            parts = urlsplit(line)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
                    or parts.query or parts.fragment or parts.username or parts.password:
                raise forms.ValidationError(
                    _("“%(line)s” is not an origin like https://example.com") % {"line": line[:100]})
            try:
                port = parts.port
            except ValueError:
                raise forms.ValidationError(_("“%(line)s” has an invalid port") % {"line": line[:100]}) from None
            origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
            if origin not in origins:
                origins.append(origin)
        if len(origins) > 50:
            raise forms.ValidationError(_("At most 50 origins"))
        return origins


def validate_business_hours(value: Any) -> None:
    try:
        workspace.clean_business_hours(value)
    except ValidationFailed as exc:
        raise forms.ValidationError(exc.detail) from None


class TenantSettingsForm(forms.ModelForm):
    """The widget settings a tenant's owners/admins edit in the admin."""

    allowed_origins = OriginsField(required=False, label=_("Allowed origins"), help_text=_(
        "Sites allowed to embed the widget, one per line, e.g. https://www.example.com"))

    class Meta:
        model = Tenant
        fields = [
            "name", "slug", "greeting", "greetings", "team_name", "color", "position", "prechat_form", "time_zone",
            "business_hours", "allowed_origins", "identity_verification", "default_capacity",
        ]

    def _service_clean(self, field: str, cleaner: Any) -> Any:
        try:
            return cleaner(self.cleaned_data.get(field))
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.detail) from None

    def clean_color(self) -> str:
        return self._service_clean("color", workspace.clean_color)

    def clean_time_zone(self) -> str:
        return self._service_clean("time_zone", workspace.clean_time_zone)

    def clean_business_hours(self) -> Any:
        return self._service_clean("business_hours", workspace.clean_business_hours)

    def clean_greetings(self) -> Any:
        return self._service_clean("greetings", workspace.clean_greetings)

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise forms.ValidationError(_("A name is required"))
        return name

