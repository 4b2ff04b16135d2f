"""Model fields shared by the tenant-owned models."""
from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from support.ids import opaque_id

PUBLIC_ID = _("public id")  # the name Django derived from the attribute, translated in the admin


class PublicIdField(models.CharField):
    """An opaque, prefixed, random id (``cv_k3j…``) filled in on first save."""

    def __init__(self, *args: Any, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix
        kwargs.setdefault("verbose_name", PUBLIC_ID)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["prefix"] = self.prefix
        if kwargs.get("verbose_name") is PUBLIC_ID:
            del kwargs["verbose_name"]  # the default: not part of the migrations' state
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if not value:
            value = opaque_id(self.prefix)
            setattr(model_instance, self.attname, value)
        return value
