"""Model fields shared by the tenant-owned models."""
from __future__ import annotations

from typing import Any

from django.db import models

from support.ids import opaque_id


class PublicIdField(models.CharField):
    """An opaque, prefixed, random id (``cv_k3j…``) filled in on first save."""

    def __init__(self, *args: Any, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["prefix"] = self.prefix
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if not value:
            value = opaque_id(self.prefix)
            setattr(model_instance, self.attname, value)
        return value
