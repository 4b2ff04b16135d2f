"""Opaque ids in admin URLs: object pages of a model with ``public_id`` are addressed by it.

``/admin/support/conversation/cv_k3j…/change/`` instead of ``/admin/support/conversation/123/change/``:
an integer primary key in a URL would tell a tenant how many conversations the whole platform
has and in which order they came, so such URLs do not exist at all (they answer 404, like an
unknown public id, for tenant admins and staff alike).

How: the translation happens at the URL edge — a path converter per model, and a thin wrapper
around each object view.

* The converter only accepts public-id-shaped path segments (so ``/123/change/`` matches no route
  and the admin's catch-all answers 404). The view wrapper turns the public id into the primary
  key the admin views work with, so everything inside Django's admin (``get_object``, the history
  query on ``LogEntry.object_id``, delete confirmation, the user password page) works on pks,
  unchanged. (Not in the converter: under ASGI URLs are resolved in the event loop, where
  database queries are refused.) The lookup is unscoped on purpose — a pure id translation;
  whether the row may be seen is decided afterwards by the admin's tenant-scoped
  ``get_queryset``, so another tenant's public id is the same 404 as a missing one.
* ``to_url`` turns whatever Django's admin reverses with — ``quote(obj.pk)`` in templates
  (history/delete buttons, breadcrumbs), read-only foreign-key links, "Recent actions"
  (``LogEntry.get_admin_url``), deleted-object lists, ``_continue`` redirects — into the public id
  (one indexed query; a model instance or a public id is used as is, without a query). A pk that
  no longer exists (the log entry of a deleted row) cannot be reversed, so it is shown without a
  link, as Django does for any unreversible log entry.
* The change list reverses its row links from the row itself (no query per row).

* List filters on a relation to a public-id model (``?assignee__public_id__exact=ag_…``) use
  ``PublicIdRelatedFilter``, so the query strings a user sees and shares carry no pks either.

What stays a primary key, and why: values inside forms — ``<select>`` options of foreign-key
fields, autocomplete results (they fill those selects), inline rows' hidden ids and the change
list's action checkboxes. They are form values the admin posts back to itself, scoped by the
tenant's queryset on the way in; they are never part of a URL, and no page links to an object by
them. (They are still in the page source, so a curious owner could read the pks of their own
rows there; changing that means replacing Django's form widgets, which we have not done.) The "change/view related
object" pencil icons next to such selects are turned off for public-id models, because Django's
JavaScript would build them from the selected option's pk.
"""
from __future__ import annotations

import functools
import re
from typing import Any

from django.contrib.admin.filters import FieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_last_value_from_parameters, quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import models
from django.urls import URLPattern, path, register_converter, reverse
from django.urls.converters import get_converters

#: What ``support.ids.opaque_id`` makes: a lowercase prefix, "_", lowercase letters and digits.
PUBLIC_ID_REGEX = r"[a-z]+_[0-9a-z]+"
_PUBLIC_ID = re.compile(PUBLIC_ID_REGEX)
#: Django's related-object widgets reverse a change URL with this placeholder, then fill it in
#: in JavaScript; it is let through so a page that still has such a widget renders (it 404s).
_WIDGET_PLACEHOLDER = "__fk__"


def has_public_id(model: type[models.Model]) -> bool:
    return any(field.name == "public_id" for field in model._meta.concrete_fields)


class PublicIdConverter:
    """Path converter of one model: a public id in the URL; pks are reversed to public ids."""

    model: type[models.Model]
    regex = f"{PUBLIC_ID_REGEX}|{_WIDGET_PLACEHOLDER}"

    def to_python(self, value: str) -> str:
        # No database here: under ASGI URLs are resolved in the event loop, where queries are
        # refused. The view wrapper (OpaqueIdAdminMixin.get_urls) turns it into the pk.
        return value

    def to_url(self, value: Any) -> str:
        if isinstance(value, models.Model):
            return str(value.public_id)  # type: ignore[attr-defined]
        text = str(value)
        if _PUBLIC_ID.fullmatch(text) or text == _WIDGET_PLACEHOLDER:
            return text  # already a public id (callers that have one pass it unquoted)
        # Django's admin passes quote(pk); a quoted public id ("cv_5F…", from a ``to_field``) is
        # recognised after unquoting. Never unquote a raw public id: "tm_23…" would become "tm#…".
        raw = unquote(text)
        if _PUBLIC_ID.fullmatch(raw):
            return raw
        try:
            # _base_manager is a plain manager (no tenant scope): a pure id translation.
            public_id = self.model._base_manager.filter(pk=raw).values_list("public_id", flat=True).first()
        except (ValueError, TypeError):
            public_id = None
        if not public_id:
            raise ValueError("no such object")  # reverse() then raises NoReverseMatch
        return str(public_id)


def converter_name(model: type[models.Model]) -> str:
    """Registers (once) and returns the path converter name of ``model``."""
    name = f"publicid_{model._meta.app_label}_{model._meta.model_name}"
    if name not in get_converters():
        register_converter(type(f"PublicIdConverter_{name}", (PublicIdConverter,), {"model": model}), name)
    return name


class OpaqueIdChangeList(ChangeList):
    """Change-list row links by public id, built from the row (no query per row)."""

    def url_for_result(self, result: models.Model) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(result,), current_app=self.model_admin.admin_site.name,
        )


class OpaqueIdAdminMixin:
    """Mix into a ModelAdmin (before it) so its object pages are addressed by ``public_id``.

    ``SwitchboardAdminSite.register`` adds it to any admin of a public-id model that lacks it, so
    a page registered by another app cannot fall back to integer URLs.
    """

    model: type[models.Model]

    def _opaque(self) -> bool:
        return has_public_id(self.model)

    def get_urls(self) -> list[Any]:
        urls = super().get_urls()  # type: ignore[misc]
        if not self._opaque():
            return urls
        name = converter_name(self.model)
        rewritten = []
        for pattern in urls:
            route = str(pattern.pattern)
            if isinstance(pattern, URLPattern) and ("<path:object_id>" in route or route.startswith("<id>/")):
                route = route.replace("<path:object_id>", f"<{name}:object_id>").replace("<id>/", f"<{name}:id>/")
                # The unnamed "<id>/" route only redirects to the change page, by public id already.
                view = self._by_public_id(pattern.callback) if pattern.name else pattern.callback
                pattern = path(route, view, pattern.default_args, pattern.name)
            rewritten.append(pattern)
        return rewritten

    def _by_public_id(self, view: Any) -> Any:
        """Wraps an object view: the public id from the URL becomes the pk the view expects."""

        @functools.wraps(view)
        def by_public_id(request: Any, *args: Any, **kwargs: Any) -> Any:
            key = "object_id" if "object_id" in kwargs else "id"
            # Unscoped on purpose (a pure translation): the view's tenant-scoped get_queryset then
            # decides, so another tenant's public id is the same 404 as a missing one. An unknown
            # id becomes "", a pk no row has, so the view answers as for an invisible row (403 where
            # the user has no right on the page at all, else 404): existence never shows.
            pk = self.model._base_manager.filter(public_id=kwargs[key]).values_list("pk", flat=True).first()
            kwargs[key] = quote("" if pk is None else str(pk))  # the views unquote() what they get
            return view(request, *args, **kwargs)

        return by_public_id

    def get_changelist(self, request: Any, **kwargs: Any) -> type[ChangeList]:
        changelist = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        if not self._opaque() or issubclass(changelist, OpaqueIdChangeList):
            return changelist
        return type("OpaqueIdChangeList", (OpaqueIdChangeList, changelist), {})

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        disable_pk_links(field)
        return field

    def lookup_allowed(self, lookup: str, value: Any, request: Any = None) -> bool:
        # Django only admits "<relation>__<field>" lookups named in list_filter; the public-id
        # filter's parameter is "<relation>__public_id__exact".
        for item in self.get_list_filter(request):  # type: ignore[attr-defined]
            if isinstance(item, tuple) and item[1] is PublicIdRelatedFilter \
                    and lookup == f"{item[0]}__public_id__exact":
                return True
        return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]


def disable_pk_links(field: Any) -> None:
    """Turns off the pencil/eye icons of a related-object widget whose target has a public id."""
    widget = getattr(field, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper) and has_public_id(widget.rel.model):
        widget.can_change_related = False
        widget.can_view_related = False
        widget.can_delete_related = False


class OpaqueIdInlineMixin:
    """For inlines: the same related-widget rule (inlines have no URLs of their own)."""

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        disable_pk_links(field)
        return field



class PublicIdRelatedFilter(RelatedOnlyFieldListFilter):
    """A relation's list filter keyed by the related rows' public ids; offers only rows in use."""

    def __init__(self, field: Any, request: Any, params: Any, model: Any, model_admin: Any, field_path: str) -> None:
        # RelatedFieldListFilter.__init__ hard-codes the target pk in the query parameter name, so
        # this repeats its few lines with ``public_id`` instead.
        self.lookup_kwarg = f"{field_path}__public_id__exact"
        self.lookup_kwarg_isnull = f"{field_path}__isnull"
        self.lookup_val = params.get(self.lookup_kwarg)
        self.lookup_val_isnull = get_last_value_from_parameters(params, self.lookup_kwarg_isnull)
        FieldListFilter.__init__(self, field, request, params, model, model_admin, field_path)
        self.lookup_choices = self.field_choices(field, request, model_admin)
        self.lookup_title = getattr(field, "verbose_name", field.related_model._meta.verbose_name)
        self.title = self.lookup_title
        self.empty_value_display = model_admin.get_empty_value_display()

    def field_choices(self, field: Any, request: Any, model_admin: Any) -> list[tuple[Any, Any]]:
        in_use = model_admin.get_queryset(request).distinct().values_list(f"{self.field_path}__pk", flat=True)
        rows = field.related_model._default_manager.filter(pk__in=in_use)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.public_id, str(row)) for row in rows]


def public_id_filters(model: type[models.Model], filters: Any) -> list[Any]:
    """``list_filter`` with each plain relation name to a public-id model given that filter."""
    result = []
    for item in filters:
        if isinstance(item, str):
            try:
                field = model._meta.get_field(item)
            except Exception:  # noqa: BLE001 - spanning lookups ("a__b") keep Django's own filter
                field = None
            if field is not None and field.is_relation and field.related_model is not None \
                    and has_public_id(field.related_model):
                item = (item, PublicIdRelatedFilter)
        result.append(item)
    return result
