"""The Switchboard admin site: platform staff and tenant owners/admins share one /admin/.

Platform staff (``user.is_staff``) get Django's usual rights and see every tenant. A tenant
owner or admin (their current ``Membership``) is let in too; what they may do on each page comes
from their role (see ``support.admin_base``), never from Django's permission tables, and they only
ever see their own tenant. Agents, and signed-in users without a membership, are refused.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from support.admin_ids import (
    OpaqueIdAdminMixin,
    PublicIdAutocompleteJsonView,
    has_public_id,
    opaque_delete_selected,
)

if TYPE_CHECKING:  # the app config below is imported before models are ready
    from support.models import Membership


def is_platform_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def tenant_admin_membership(request: HttpRequest) -> Membership | None:
    """The owner/admin membership that admits a non-staff user to the admin, else None.

    Staff get None on purpose: they act as platform staff (unscoped), not as a tenant member.
    """
    user = request.user
    if not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None or not membership.is_active or not membership.is_admin:
        return None
    return membership


class PlatformStaffReadOnlyMixin:
    """A page for platform staff only, of rows the system writes: nobody adds, changes or deletes
    them here (a subclass may let staff delete)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MissingIs404Mixin:
    """Object URLs answer the same for another tenant's id as for a missing one.

    A missing object is a plain 404 (Django would redirect with a message that echoes the id), and
    a user without any right on the page gets 403 *before* the lookup, so the status never tells
    whether an id exists. The site mixes this into every registered admin.
    """

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        raise Http404(f"No {opts.verbose_name} with that id")

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().change_view(request, object_id, *args, **kwargs)  # type: ignore[misc]

    def history_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().history_view(request, object_id, *args, **kwargs)  # type: ignore[misc]

    def delete_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        if not self.has_delete_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().delete_view(request, object_id, *args, **kwargs)  # type: ignore[misc]


class SwitchboardAdminSite(admin.AdminSite):
    site_header = _("Switchboard admin")
    site_title = _("Switchboard admin")
    index_title = _("Administration")
    index_template = "admin/switchboard_index.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Its confirmation page re-posts the selected rows by public id (support.admin_ids).
        self.add_action(opaque_delete_selected, "delete_selected")

    def autocomplete_view(self, request: HttpRequest) -> Any:
        # Results by public id: they fill selects whose values are public ids.
        return PublicIdAutocompleteJsonView.as_view(admin_site=self)(request)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, MissingIs404Mixin):
            admin_class = type(admin_class.__name__, (MissingIs404Mixin, admin_class), {})
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        if not issubclass(admin_class, OpaqueIdAdminMixin) and any(has_public_id(m) for m in models):
            # No integer-pk URLs, whichever app registered the page (see support.admin_ids).
            admin_class = type(admin_class.__name__, (OpaqueIdAdminMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request) or tenant_admin_membership(request) is not None

    #: What tenant owners/admins read in the menu instead of the model names (which staff keep).
    TENANT_MENU_NAMES = {
        "support.Tenant": _("Workspace settings"),
        "support.Membership": _("Agents"),
        "support.ApiToken": _("API tokens"),
    }

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        app_list = super().get_app_list(request, app_label)
        if tenant_admin_membership(request) is not None:
            for app in app_list:
                for entry in app["models"]:
                    label = f"{app['app_label']}.{entry['object_name']}"
                    entry["name"] = self.TENANT_MENU_NAMES.get(label, entry["name"])
        return app_list

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        membership = tenant_admin_membership(request)
        if membership is not None:
            context["site_header"] = _("Switchboard admin · %(workspace)s") % {"workspace": membership.tenant.name}
            context["admin_tenant"] = membership.tenant
        return context

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One throttled sign-in for the whole product: the accounts login page.

        A signed-in user without admin rights gets a plain "no access" page instead of a login
        form (which would otherwise bounce them around in a loop).
        """
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated and not self.has_permission(request):
            return TemplateResponse(
                request, "admin/no_access.html",
                {**self.each_context(request), "title": _("No admin access")}, status=403,
            )
        if request.user.is_authenticated:
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(reverse("login") + "?" + urlencode({"next": next_url}))


class SwitchboardAdminConfig(AdminConfig):
    """Makes ``django.contrib.admin.site`` the Switchboard site (used in INSTALLED_APPS)."""

    default_site = "support.admin_site.SwitchboardAdminSite"
