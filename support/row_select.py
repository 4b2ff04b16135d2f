"""Hand-written ``SELECT`` of a model's rows with to-one relations joined in, for the hot path's
reads: what ``select_related`` returns, without the ORM compiling the same statement again for
every call (building and compiling the write batch's two reads was half of its CPU).

The select list and the joins are built once per model and relation set; a caller adds its
``WHERE`` (columns of the model's table as ``t0.<column>``, values as parameters) and, if it wants,
extra columns. Rows become instances through ``Model.from_db`` with the converters the ORM would
apply, and each related row is set through the relation's descriptor, as ``select_related`` does.
"""
from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Col

from support.round_trip import Statement


@dataclass(frozen=True)
class _Part:
    """One table of the select list: its model, alias, fields, and which relation of which part it fills."""

    model: type[models.Model]
    alias: str
    fields: tuple[models.Field, ...]
    parent: int | None  # index of the part holding the relation (None: the selected model)
    relation: str | None  # the relation's name on that part
    start: int  # position of its first column in the row


@dataclass(frozen=True)
class _Shape:
    columns: str  # "t0.a, t0.b, …, t1.x, …"
    joins: str  # "LEFT OUTER JOIN … t1 ON …"
    parts: tuple[_Part, ...]
    width: int


def _shape(model: type[models.Model], related: tuple[str, ...], connection: BaseDatabaseWrapper) -> _Shape:
    key = (model, related, connection.vendor)
    found = _shapes.get(key)
    if found is None:
        found = _shapes[key] = _build_shape(model, related, connection.ops.quote_name)
    return found


_shapes: dict[tuple[type[models.Model], tuple[str, ...], str], _Shape] = {}


def _build_shape(model: type[models.Model], related: tuple[str, ...], quote: Any) -> _Shape:
    parts: list[_Part] = []
    paths: dict[str, int] = {}
    joins: list[str] = []
    start = 0

    def add(part_model: type[models.Model], parent: int | None, relation: str | None) -> int:
        nonlocal start
        alias = f"t{len(parts)}"
        fields = tuple(part_model._meta.concrete_fields)
        parts.append(_Part(part_model, alias, fields, parent, relation, start))
        start += len(fields)
        return len(parts) - 1

    add(model, None, None)
    for path in related:
        parent, parent_model, walked = 0, model, []
        for name in path.split("__"):
            walked.append(name)
            key = "__".join(walked)
            if key not in paths:
                field = parent_model._meta.get_field(name)
                assert isinstance(field, models.ForeignKey), f"{key} is not a to-one relation"
                target = field.related_model
                assert isinstance(target, type) and issubclass(target, models.Model)
                index = add(target, parent, name)
                alias, parent_alias = parts[index].alias, parts[parent].alias
                joins.append(
                    f"LEFT OUTER JOIN {quote(target._meta.db_table)} {alias}"
                    f" ON {alias}.{quote(field.target_field.column)} = {parent_alias}.{quote(field.column)}"
                )
                paths[key] = index
            parent = paths[key]
            parent_model = parts[parent].model
    columns = ", ".join(f"{part.alias}.{quote(field.column)}" for part in parts for field in part.fields)
    return _Shape(columns, " ".join(joins), tuple(parts), start)


def select_joined(
    model: type[models.Model], related: Sequence[str], where: str, params: Sequence[Any], *,
    extra: Sequence[tuple[str, str]] = (), extra_params: Sequence[Any] = (), tail: str = "",
) -> list[Any]:
    """The rows of ``model`` matching ``where`` (SQL on ``t0``, the model's table), with the
    to-one relations ``related`` (``select_related`` paths) loaded, ordered by primary key.

    ``extra`` adds ``(attribute, SQL expression)`` columns, set on each instance as it comes
    (their ``extra_params`` come before ``params`` in the statement); ``tail`` ends the statement
    (e.g. ``FOR UPDATE OF t0``). Runs on the current transaction's connection.
    """
    query = joined_select(model, related, where, params, extra=extra, extra_params=extra_params, tail=tail)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(query.statement.sql, list(query.statement.params))
        return query.read(cursor.fetchall())


@dataclass(frozen=True)
class JoinedSelect:
    """``select_joined``'s statement, to run with others (``support.round_trip``), and how its rows
    become instances (``read``)."""

    statement: Statement
    shape: _Shape
    extra: tuple[str, ...]  # the extra columns' attribute names

    def read(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        return _instances(self.shape, self.extra, rows)


def joined_select(
    model: type[models.Model], related: Sequence[str], where: str, params: Sequence[Any], *,
    extra: Sequence[tuple[str, str]] = (), extra_params: Sequence[Any] = (), tail: str = "",
) -> JoinedSelect:
    """The statement of ``select_joined`` (the same arguments), not run yet."""
    connection = transaction.get_connection()
    shape = _shape(model, tuple(related), connection)
    pk = model._meta.pk
    assert pk is not None
    extra_sql = "".join(f", {sql}" for _, sql in extra)
    sql = (
        f"SELECT {shape.columns}{extra_sql} FROM {connection.ops.quote_name(model._meta.db_table)} t0"  # noqa: S608
        f" {shape.joins} WHERE {where} ORDER BY t0.{connection.ops.quote_name(pk.column)} {tail}"
    )
    return JoinedSelect(Statement(sql, [*extra_params, *params], rows=True), shape, tuple(name for name, _ in extra))


def _instances(shape: _Shape, extra: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[Any]:
    connection = transaction.get_connection()
    converters = _converters(shape, connection)
    found = []
    for row in rows:
        instances: list[models.Model | None] = []
        for part, part_converters in zip(shape.parts, converters, strict=True):
            values = list(row[part.start:part.start + len(part.fields)])
            for k, field_converters in part_converters:
                value = values[k]
                for converter, col in field_converters:
                    value = converter(value, col, connection)
                values[k] = value
            pk_value = values[part.fields.index(part.model._meta.pk)] if part.parent is not None else True
            instance = (
                part.model.from_db(connection.alias, [f.attname for f in part.fields], values)
                if pk_value is not None else None
            )
            instances.append(instance)
            if part.parent is not None and part.relation is not None:
                parent = instances[part.parent]
                if parent is not None:
                    setattr(parent, part.relation, instance)
        obj = instances[0]
        for name, value in zip(extra, row[shape.width:], strict=True):
            setattr(obj, name, value)
        found.append(obj)
    return found


def _converters(
    shape: _Shape, connection: BaseDatabaseWrapper
) -> list[list[tuple[int, list[tuple[Any, Col]]]]]:
    """Per part, the (column index, converters) of each column that has any (as the ORM applies them)."""
    per_connection = _converter_cache.setdefault(connection, {})
    found = per_connection.get(id(shape))
    if found is None:
        found = []
        for part in shape.parts:
            per_part = []
            for k, field in enumerate(part.fields):
                col = field.get_col(part.alias)
                funcs = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
                if funcs:
                    per_part.append((k, [(func, col) for func in funcs]))
            found.append(per_part)
        per_connection[id(shape)] = found
    return found


# Per connection (its operations' converters are its own methods), per shape.
_converter_cache: weakref.WeakKeyDictionary[
    BaseDatabaseWrapper, dict[int, list[list[tuple[int, list[tuple[Any, Col]]]]]]
] = weakref.WeakKeyDictionary()
