"""Multi-row ``INSERT … VALUES … RETURNING`` of new model instances: what ``bulk_create`` writes for
the hot path's rows, without its per-row, per-field compilation (a third of a busy server's samples).
"""
from __future__ import annotations

from collections.abc import Sequence

from django.db import models, transaction


def insert_rows(objs: Sequence[models.Model], *, returning_pk: bool = True) -> None:
    """Insert ``objs`` (new instances of one model) in one statement, or as few as the backend's
    parameter limit allows; with ``returning_pk`` each instance gets its primary key.

    Like ``bulk_create``: every concrete field but an automatic primary key, each value as the field
    saves it (``pre_save``: a public id is filled in; ``get_db_prep_save``), no signals. Runs on the
    current transaction's connection; PostgreSQL and SQLite (3.35+) both return the rows of a
    multi-row insert in the order of its VALUES list, which ``bulk_create`` relies on too.
    """
    if not objs:
        return
    meta = objs[0]._meta
    assert all(obj._meta is meta for obj in objs)
    connection = transaction.get_connection()
    pk = meta.pk
    assert pk is not None
    fields = [field for field in meta.concrete_fields if field is not pk and not field.generated]
    qn = connection.ops.quote_name
    placeholder = "({})".format(", ".join(["%s"] * len(fields)))
    # Only the model's own quoted names are formatted in; every value is a parameter.
    columns = ", ".join(qn(field.column) for field in fields)
    head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    tail = f" RETURNING {qn(pk.column)}" if returning_pk else ""
    per_statement = len(objs)
    if connection.features.max_query_params:  # SQLite: 999 parameters a statement
        per_statement = max(1, connection.features.max_query_params // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            params = [
                field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in chunk for field in fields
            ]
            cursor.execute(head + ", ".join([placeholder] * len(chunk)) + tail, params)
            if returning_pk:
                for obj, row in zip(chunk, cursor.fetchall(), strict=True):
                    obj.pk = row[0]
            for obj in chunk:
                obj._state.adding = False
                obj._state.db = connection.alias
