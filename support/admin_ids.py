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

Form values are public ids too (``OpaqueFormValuesMixin``, mixed into ``OpaqueIdAdminMixin`` and
``OpaqueIdInlineMixin``), for every relation to a model with ``public_id`` that refers to its pk,
on every page whose admin has the mixin — every admin of a public-id model (the site adds it) and
the staff-only billing pages — for tenant admins and platform staff alike:

* ``<select>`` options of foreign-key and many-to-many fields: the admin's
  ``formfield_for_foreignkey``/``formfield_for_manytomany`` give ``db_field.formfield()``
  ``form_class=PublicIdModelChoiceField`` (``…MultipleChoiceField``), Django's ``to_field_name``
  set to ``public_id``. A posted value is looked up in the field's queryset — the tenant-scoped
  choices — so another tenant's public id, a missing one and an integer pk are all the same
  "Select a valid choice". ``prepare_value`` turns the integer pk of an existing row's initial
  data (``model_to_dict``) into the public id, so the current selection shows and an untouched
  field is not "changed"; posted strings are never translated (a pk typed into a request does
  not come back as a public id). Forms that declare such a field themselves use these classes
  (``MembershipForm.team_memberships``, the staff's ``tenant`` choice in ``admin_base``). The
  "+" (add another) pop-up next to such a select hands the new row back by public id
  (``response_add``), so it lands in the select as a valid choice.
* Autocomplete: the site's ``autocomplete_view`` answers with ``PublicIdAutocompleteJsonView``
  (``"id"`` is the public id), and fields in ``autocomplete_fields`` get
  ``PublicIdAutocompleteSelect(Multiple)``, which renders the selected options by public id.
* The change list's action checkboxes (``action_checkbox``) carry the row's public id;
  ``response_action`` turns the posted ids into pks among the change list's own (tenant-scoped,
  filtered) queryset before Django runs the action, so a foreign, unknown or integer id selects
  nothing ("Items must be selected"). "Select all" (``select_across``) ignores the posted ids, as
  in Django. The "delete selected" confirmation page re-posts public ids
  (``opaque_delete_selected``, registered by the site under Django's action name).
* Inline rows (``PublicIdInlineFormSet``, the formset of ``OpaqueIdInlineMixin``): each row's
  hidden foreign key to the parent holds the parent's public id (``InlineForeignKeyField``'s own
  ``to_field``), and a row of a model with a public id is identified by it — its hidden "pk"
  field is a ``PublicIdModelChoiceField`` and a posted row is matched by public id among the
  formset's own rows (``_construct_form``: the one private formset method overridden; Django's
  pk lookup is skipped because a public id does not parse as a pk).

What still carries integer pks, and why: rows of models without a public id, which have nothing
else to show — Django's permission and group choices on the staff-only user page and the outbox
delivery pages (staff only) — and two staff-only inlines that are plain Django inlines, not
``OpaqueIdInlineMixin`` (invoice lines in billing, outbox deliveries in push: their hidden inputs
hold the rows' pks and the parent invoice's or event's pk). A tenant page that would need an
inline of such rows shows them as a read-only table instead (webhook attempts, conversation
messages). ``raw_id_fields`` and ``list_editable`` are not supported on public-id relations
(their pop-ups and hidden row ids are pk-based); no page uses them. The "change/view related
object" pencil icons next to such selects stay off for public-id models, because Django's
JavaScript would build them from the selected option's value as a pk.
"""
from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.filters import FieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.utils import get_last_value_from_parameters, quote, unquote
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple, RelatedFieldWidgetWrapper
from django.db import models
from django.forms.models import BaseInlineFormSet, InlineForeignKeyField
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, register_converter, reverse
from django.urls.converters import get_converters
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

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


# --- Form values: choices, autocomplete and action checkboxes by public id --------------------


def _is_pk(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _public_ids(model: type[models.Model], pks: list[int]) -> dict[int, str]:
    """pk → public id of these rows. Unscoped: only ever given server-side values (see below)."""
    if not pks:
        return {}
    return dict(model._base_manager.filter(pk__in=set(pks)).values_list("pk", "public_id"))


class PublicIdModelChoiceField(forms.ModelChoiceField):
    """A foreign-key choice keyed by the related row's public id: option values and POST data.

    Choosing is Django's own ``to_field_name`` lookup in ``queryset`` (the tenant-scoped choices),
    so another tenant's public id is "Select a valid choice", exactly like a missing one, and so is
    an integer pk. ``prepare_value`` also turns an integer pk into the public id: that is what
    ``model_to_dict`` puts in an existing row's initial data, so the change form shows the current
    selection and an untouched field does not count as changed. Only ints are translated: posted
    data are strings and are shown back as posted, so a pk typed into a request is never turned
    into (and so never reveals) a public id.
    """

    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs["to_field_name"] = "public_id"
        super().__init__(queryset, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if _is_pk(value):
            return _public_ids(self.queryset.model, [value]).get(value, "")  # type: ignore[union-attr]
        return super().prepare_value(value)


class PublicIdModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """The many-to-many counterpart of ``PublicIdModelChoiceField`` (one query for all pks)."""

    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs["to_field_name"] = "public_id"
        super().__init__(queryset, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if hasattr(value, "__iter__") and not isinstance(value, str) and not hasattr(value, "_meta"):
            values = list(value)
            ids = _public_ids(self.queryset.model, [v for v in values if _is_pk(v)])  # type: ignore[union-attr]
            prepare_one = super().prepare_value  # (super() does not work inside the comprehension)
            return [ids.get(v, "") if _is_pk(v) else prepare_one(v) for v in values]
        if _is_pk(value):
            return _public_ids(self.queryset.model, [value]).get(value, "")  # type: ignore[union-attr]
        return super().prepare_value(value)


class _PublicIdAutocompleteMixin:
    """Selected options of an autocomplete select, by public id (Django's look them up by pk)."""

    choices: Any
    db: Any
    is_required: bool
    allow_multiple_selected: bool

    def optgroups(self, name: str, value: Any, attr: Any = None) -> list[Any]:
        field = self.choices.field
        selected = {str(v) for v in value if str(v) not in field.empty_values}
        options: list[Any] = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))  # type: ignore[attr-defined]
        # The field's queryset is the tenant-scoped choices: another tenant's id renders nothing.
        for obj in field.queryset.using(self.db).filter(public_id__in=selected):
            options.append(self.create_option(  # type: ignore[attr-defined]
                name, obj.public_id, field.label_from_instance(obj), True, len(options),
            ))
        return [(None, options, 0)]


class PublicIdAutocompleteSelect(_PublicIdAutocompleteMixin, AutocompleteSelect):
    pass


class PublicIdAutocompleteSelectMultiple(_PublicIdAutocompleteMixin, AutocompleteSelectMultiple):
    pass


class PublicIdAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete results (they fill the selects above) carry public ids, not pks."""

    def serialize_result(self, obj: models.Model, to_field_name: str) -> dict[str, str]:
        if has_public_id(type(obj)) and to_field_name == obj._meta.pk.attname:
            return {"id": str(obj.public_id), "text": str(obj)}  # type: ignore[attr-defined]
        return dict(super().serialize_result(obj, to_field_name))


def keyed_by_pk(db_field: Any) -> bool:
    """A relation to a public-id model that refers to its pk (not to another ``to_field``)."""
    related = getattr(db_field, "related_model", None)
    if related is None or not has_public_id(related):
        return False
    return getattr(db_field.remote_field, "field_name", None) in (None, related._meta.pk.name)


class OpaqueFormValuesMixin:
    """Relation form fields of public-id targets choose by public id (admin pages and inlines)."""

    admin_site: Any

    def _public_id_kwargs(self, db_field: Any, request: Any, kwargs: dict[str, Any], many: bool) -> dict[str, Any]:
        if not keyed_by_pk(db_field):
            return kwargs
        kwargs = dict(kwargs)
        kwargs.setdefault("form_class", PublicIdModelMultipleChoiceField if many else PublicIdModelChoiceField)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):  # type: ignore[attr-defined]
            widget = PublicIdAutocompleteSelectMultiple if many else PublicIdAutocompleteSelect
            kwargs["widget"] = widget(db_field, self.admin_site, using=kwargs.get("using"))
        return kwargs

    def formfield_for_foreignkey(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        kwargs = self._public_id_kwargs(db_field, request, kwargs, many=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        kwargs = self._public_id_kwargs(db_field, request, kwargs, many=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        disable_pk_links(field)
        return field


class _ByPublicId:
    """What the delete confirmation template needs of a row (``obj.pk``), as its public id."""

    def __init__(self, obj: models.Model) -> None:
        self.pk = obj.public_id  # type: ignore[attr-defined]
        self._str = str(obj)

    def __str__(self) -> str:
        return self._str


def opaque_delete_selected(modeladmin: Any, request: Any, queryset: Any) -> Any:
    """Django's "delete selected" action, whose confirmation page re-posts public ids."""
    response = delete_selected(modeladmin, request, queryset)
    if isinstance(response, TemplateResponse) and response.context_data and has_public_id(queryset.model):
        response.context_data["queryset"] = [_ByPublicId(obj) for obj in response.context_data["queryset"]]
    return response


opaque_delete_selected.allowed_permissions = delete_selected.allowed_permissions  # type: ignore[attr-defined]
opaque_delete_selected.short_description = delete_selected.short_description  # type: ignore[attr-defined]


def disable_pk_links(field: Any) -> None:
    """Turns off the pencil/eye icons of a related-object widget whose target has a public id."""
    widget = getattr(field, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper) and has_public_id(widget.rel.model):
        widget.can_change_related = False
        widget.can_view_related = False
        widget.can_delete_related = False


@contextlib.contextmanager
def _posting(request: Any, replaced: dict[str, list[str]]) -> Iterator[None]:
    """``request.POST`` with some values replaced, while Django's own handler reads them."""
    posted = request.POST
    changed = posted.copy()
    for key, values in replaced.items():
        changed.setlist(key, values)
    request.POST = changed
    try:
        yield
    finally:
        request.POST = posted


def _pk_names(obj: models.Model) -> tuple[str, str]:
    return obj._meta.pk.name, obj._meta.pk.attname  # type: ignore[union-attr]


class OpaqueIdChangeList(ChangeList):
    """Change-list row links by public id, built from the row (no query per row)."""

    def url_for_result(self, result: models.Model) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(result,), current_app=self.model_admin.admin_site.name,
        )


class OpaqueIdAdminMixin(OpaqueFormValuesMixin):
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

    def action_checkbox(self, obj: Any) -> SafeString:
        """The change list's row checkbox, valued with the row's public id."""
        if not self._opaque():
            return super().action_checkbox(obj)  # type: ignore[misc,no-any-return]
        checkbox = forms.CheckboxInput({"class": "action-select", "aria-label": format_html(
            _("Select this object for an action - {}"), str(obj))}, lambda value: False)
        return checkbox.render(ACTION_CHECKBOX_NAME, str(obj.public_id))

    def response_action(self, request: Any, queryset: Any, *args: Any, **kwargs: Any) -> Any:
        """Runs an action on the rows whose public ids were posted, among ``queryset``.

        ``queryset`` is the change list's (tenant-scoped, filtered), so a posted id of another
        tenant's row selects nothing, like a missing one; so does a pk. Django's own
        ``response_action`` then runs on the pks found (with "select all", ``select_across``, it
        ignores the posted ids anyway).
        """
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        if not self._opaque() or not selected:
            return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]
        public_ids = [value for value in selected if _PUBLIC_ID.fullmatch(value)]
        pks = queryset.filter(public_id__in=public_ids).values_list("pk", flat=True) if public_ids else []
        with _posting(request, {ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}):
            return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]

    def response_add(self, request: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        """The "add another" pop-up (the "+" next to a select) hands the new row to the opener's
        select by its public id: Django sends the field named by ``_to_field`` — the pk."""
        to_field = request.POST.get(TO_FIELD_VAR)
        if IS_POPUP_VAR in request.POST and self._opaque() and to_field in (None, "", *_pk_names(obj)):
            with _posting(request, {TO_FIELD_VAR: ["public_id"]}):
                return super().response_add(request, obj, *args, **kwargs)  # type: ignore[misc]
        return super().response_add(request, obj, *args, **kwargs)  # type: ignore[misc]

    def lookup_allowed(self, lookup: str, value: Any, request: Any = None) -> bool:
        # Django only admits "<relation>__<field>" lookups named in list_filter; the public-id
        # filter's parameter is "<relation>__public_id__exact".
        for item in self.get_list_filter(request):  # type: ignore[attr-defined]
            if isinstance(item, tuple) and item[1] is PublicIdRelatedFilter \
                    and lookup == f"{item[0]}__public_id__exact":
                return True
        return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]


class PublicIdInlineFormSet(BaseInlineFormSet):
    """Inline rows whose hidden inputs carry public ids instead of pks.

    * Each row's foreign key to the parent (``InlineForeignKeyField``, a hidden input Django only
      compares with the parent it already has) holds the parent's public id, through that field's
      own ``to_field`` option.
    * A row of a model with a public id identifies itself by it: the hidden "pk" field becomes a
      ``PublicIdModelChoiceField`` over the same queryset, and a posted row is matched among this
      formset's own rows (``get_queryset``: the parent's, tenant-scoped) by that public id. An id
      that is not one of them leaves the row without an instance, which Django then refuses
      ("Select a valid choice"), as it does for a tampered pk.
    """

    def add_fields(self, form: Any, index: Any) -> None:
        super().add_fields(form, index)
        parent_field = form.fields.get(self.fk.name)
        if isinstance(parent_field, InlineForeignKeyField) and not parent_field.pk_field \
                and parent_field.to_field is None and keyed_by_pk(self.fk):
            parent_field.to_field = "public_id"
            parent_field.initial = getattr(self.instance, "public_id", None) or None
            form.initial.pop(self.fk.name, None)  # a pk from model_to_dict would win over it
        pk_name = self._pk_field.name  # type: ignore[attr-defined]  # set by Django's add_fields
        row_field = form.fields.get(pk_name)
        if self._rows_opaque() and type(row_field) is forms.ModelChoiceField:
            form.fields[pk_name] = PublicIdModelChoiceField(
                row_field.queryset, initial=row_field.initial, required=row_field.required, widget=row_field.widget,
            )

    def _rows_opaque(self) -> bool:
        return self.model is not None and has_public_id(self.model)

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        # Django finds a posted row's instance by its pk (a public id here does not parse as one,
        # so Django's own lookup is skipped); find it by public id among this formset's rows.
        if self.is_bound and i < self.initial_form_count() and self._rows_opaque() and "instance" not in kwargs:
            posted = self.data.get(f"{self.add_prefix(i)}-{self.model._meta.pk.name}")  # type: ignore[union-attr]
            if not hasattr(self, "_by_public_id"):
                self._by_public_id = {row.public_id: row for row in self.get_queryset()}
            instance = self._by_public_id.get(posted) if isinstance(posted, str) else None
            if instance is not None:
                kwargs["instance"] = instance
        return super()._construct_form(i, **kwargs)  # type: ignore[misc]


class OpaqueIdInlineMixin(OpaqueFormValuesMixin):
    """For inlines: the same form-value rules, and hidden row ids by public id."""

    formset: Any = PublicIdInlineFormSet



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
