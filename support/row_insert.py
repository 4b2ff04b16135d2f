"""Multi-row ``INSERT … RETURNING`` of new model instances and ``UPDATE`` of many rows at once: what
``bulk_create`` and ``bulk_update`` write for the hot path's rows, without their per-row, per-field
compilation (a third of a busy server's samples).

On PostgreSQL the rows travel as one JSON parameter, unpacked by ``json_populate_recordset`` with
the table's own row type: a statement of a hundred rows has one placeholder instead of a thousand,
and psycopg's parsing of placeholders and quoting of each value (a fifth of a batch's CPU) is gone;
the statement's text is the same whatever the batch's size. SQLite gets a ``VALUES`` list.
On PostgreSQL, rows whose ids were drawn beforehand (``reserve_pks``) can be written together with
other statements in one round trip (``support.round_trip``).
"""
from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields import Field

from support.round_trip import Statement


def insert_rows(
    objs: Sequence[models.Model], *, returning_pk: bool = True, into: list[Statement] | None = None
) -> None:
    """Insert ``objs`` (new instances of one model) in one statement, or as few as the backend's
    parameter limit allows; with ``returning_pk`` each instance gets its primary key.

    Like ``bulk_create``: every concrete field but an automatic primary key, each value as the field
    saves it (``pre_save``: a public id is filled in; ``get_db_prep_save``), no signals. Runs on the
    current transaction's connection; PostgreSQL and SQLite (3.35+) both return the rows of a
    multi-row insert in the order of the rows given, which ``bulk_create`` relies on too.

    Instances that all have their primary key already (``reserve_pks``) are inserted with it, and
    nothing is read back. ``into`` collects the statements instead of running them, to go with
    others in one round trip (``support.round_trip.run_together``): only for such instances.
    """
    if not objs:
        return
    meta = objs[0]._meta
    assert all(obj._meta is meta for obj in objs)
    connection = transaction.get_connection()
    pk = meta.pk
    assert pk is not None
    with_pk = all(obj.pk is not None for obj in objs)
    assert with_pk or into is None, "statements run later cannot hand back the primary keys"
    returning_pk = returning_pk and not with_pk
    fields = [field for field in meta.concrete_fields if (with_pk or field is not pk) and not field.generated]
    qn = connection.ops.quote_name
    # Only the model's own quoted names are formatted in; every value is a parameter.
    table = qn(meta.db_table)
    columns = ", ".join(qn(field.column) for field in fields)
    tail = f" RETURNING {qn(pk.column)}" if returning_pk else ""
    rows = _prepared(objs, fields, connection, adding=True)
    if connection.vendor == "postgresql":
        chunks = [(objs, f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
                         f"FROM json_populate_recordset(NULL::{table}, %s::json){tail}",
                   [as_json(fields, rows)])]
    else:
        placeholder = "({})".format(", ".join(["%s"] * len(fields)))
        per_statement = len(objs)
        if connection.features.max_query_params:  # SQLite: 999 parameters a statement
            per_statement = max(1, connection.features.max_query_params // len(fields))
        chunks = [
            (objs[start:start + per_statement],
             f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
             + ", ".join([placeholder] * len(objs[start:start + per_statement])) + tail,
             [value for row in rows[start:start + per_statement] for value in row])
            for start in range(0, len(objs), per_statement)
        ]
    if into is not None:
        into.extend(Statement(sql, params) for _, sql, params in chunks)
    else:
        with connection.cursor() as cursor:
            for chunk, sql, params in chunks:
                cursor.execute(sql, params)
                if returning_pk:
                    for obj, row in zip(chunk, cursor.fetchall(), strict=True):
                        obj.pk = row[0]
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def reserve_pks(models_: Sequence[type[models.Model]], count: int) -> Statement | None:
    """On PostgreSQL, the statement that draws ``count`` primary keys of each of ``models_`` from
    their sequences (a row of one key per model, ``count`` rows), so that rows can be written with
    them and a later statement of the same round trip can name them; ``None`` elsewhere (SQLite
    hands keys out only as it inserts)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or count < 1:
        return None
    qn = connection.ops.quote_name
    draws = []
    for model in models_:
        pk = model._meta.pk
        assert pk is not None
        draws.append(f"nextval(pg_get_serial_sequence('{qn(model._meta.db_table)}', '{pk.column}'))")
    return Statement(f"SELECT {', '.join(draws)} FROM generate_series(1, %s)", [count], rows=True)  # noqa: S608


def update_rows(
    objs: Sequence[models.Model], field_names: Sequence[str], *, into: list[Statement] | None = None
) -> None:
    """``UPDATE`` the fields named of each of ``objs`` (saved instances of one model) to its own
    values, in one statement: what ``bulk_update`` writes, without its ``CASE`` expression per field
    per row (building and compiling those was a quarter of a busy server's samples). ``into``
    collects the statements instead of running them (``insert_rows``)."""
    if not objs:
        return
    meta = objs[0]._meta
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    columns = [field for field in meta.concrete_fields if field.name in field_names]
    assert len(columns) == len(field_names), field_names
    fields = [pk, *columns]
    rows = _prepared(objs, fields, connection, adding=False)
    table = qn(meta.db_table)
    where = f" WHERE {table}.{qn(pk.column)} = v.{qn(pk.column)}"
    statements: list[Statement] = []
    if connection.vendor == "postgresql":
        assignments = ", ".join(f"{qn(field.column)} = v.{qn(field.column)}" for field in columns)
        # Only the model's own quoted names are formatted in; every value is a parameter.
        statements.append(Statement(
            f"UPDATE {table} SET {assignments} FROM json_populate_recordset(NULL::{table}, %s::json) AS v"  # noqa: S608
            + where, [as_json(fields, rows)],
        ))
    else:
        # SQLite (3.33+) names a VALUES list's columns column1, column2, …
        assignments = ", ".join(f"{qn(field.column)} = v.column{k}" for k, field in enumerate(columns, start=2))
        placeholder = "({})".format(", ".join(["%s"] * len(fields)))
        per_statement = len(objs)
        if connection.features.max_query_params:  # SQLite: 999 parameters a statement
            per_statement = max(1, connection.features.max_query_params // len(fields))
        for start in range(0, len(objs), per_statement):
            chunk = rows[start:start + per_statement]
            statements.append(Statement(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v"  # noqa: S608
                f" WHERE {table}.{qn(pk.column)} = v.column1",
                [value for row in chunk for value in row],
            ))
    if into is not None:
        into.extend(statements)
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.sql, list(statement.params))


def _prepared(
    objs: Sequence[models.Model], fields: Sequence[Field], connection: BaseDatabaseWrapper, *, adding: bool
) -> list[list[Any]]:
    """Each instance's values of ``fields`` as the fields save them (``pre_save`` when ``adding``,
    then ``get_db_prep_save``). A value that saving leaves as it is (``_as_is``) is taken as it
    is: those calls, several per column per row, were a quarter of a write batch's Python."""
    plan = [(field, field.attname, _as_is(field, connection.vendor)) for field in fields]
    rows = []
    for obj in objs:
        values = obj.__dict__
        row = []
        for field, attname, kept in plan:
            if kept:
                value = values.get(attname, _MISSING)
                if value is None or type(value) in kept:
                    row.append(value)
                    continue
            value = field.pre_save(obj, True) if adding else getattr(obj, attname)
            row.append(field.get_db_prep_save(value, connection))
        rows.append(row)
    return rows


def _as_is(field: Field, vendor: str) -> tuple[type, ...]:
    """The types of value that ``field`` saves unchanged (``pre_save`` reads the attribute and
    ``get_db_prep_save`` converts nothing), none if any of its methods is its own. Exact classes
    only: a subclass may change any of them (``PublicIdField.pre_save`` fills a blank id in)."""
    key = (type(field), vendor)
    found = _as_is_by_class.get(key)
    if found is None:
        found = _as_is_by_class[key] = _AS_IS.get(type(field), ())
        if vendor == "postgresql" and type(field) is models.JSONField:
            # Unwrapped again by ``as_json``: the rows travel as JSON (without an encoder of the field's own).
            found = (dict, list)
    if type(field) is models.JSONField and getattr(field, "encoder", None) is not None:
        return ()
    if isinstance(field, models.ForeignKey) and not _AS_IS.get(type(field.target_field)):
        return ()
    return found


_AS_IS: dict[type, tuple[type, ...]] = {
    models.CharField: (str,), models.TextField: (str,),
    models.IntegerField: (int,), models.BigIntegerField: (int,), models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,), models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,), models.AutoField: (int,), models.BigAutoField: (int,),
    models.BooleanField: (bool,), models.ForeignKey: (int,),
}
_as_is_by_class: dict[tuple[type, str], tuple[type, ...]] = {}


def as_json(fields: Sequence[Field], rows: Sequence[Sequence[Any]]) -> str:
    """The rows as a JSON array of objects keyed by column, for ``json_populate_recordset``: values
    as ``get_db_prep_save`` made them, a JSON field's value as the JSON it holds."""
    names = [field.column for field in fields]
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=_json_value,
                      ensure_ascii=False, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    wrapped = getattr(value, "obj", _MISSING)  # psycopg's Json/Jsonb, which a JSON field prepares
    if wrapped is not _MISSING:
        return wrapped
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot travel in a JSON row")


_MISSING = object()
