"""Several statements sent to the database in one round trip: how the write batch reads its rows in
one exchange and writes them in another (``support.services.message_batch``).

On PostgreSQL with psycopg's client-side binding (Django's default), the statements go as one
query string, parameters bound in it, and PostgreSQL runs them one after another, each with a
snapshot taken when it starts (as if sent one by one in the same transaction), answering each in
turn; the first that fails stops the rest and raises. Each round trip costs Python (psycopg and
Django's cursor wrapper) and, on a busy server, a wait to get the GIL back from the event loop:
a batch went from seven exchanges to three. Anywhere else (SQLite, server-side binding, which
cannot hold several statements in one query) the statements run one by one, with the same results.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a round trip: its SQL (values as ``%s`` parameters) and whether its rows are
    wanted (a statement that returns none, or whose rows are not read, says no)."""

    sql: str
    params: Sequence[Any] = ()
    rows: bool = False


def run_together(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]] | None]:
    """Run ``statements`` in order on the current transaction's connection, in one round trip where
    the connection can; return each one's rows (``None`` for one whose rows are not wanted)."""
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        if len(statements) > 1 and together(connection):
            cursor.execute("; ".join(s.sql for s in statements), [p for s in statements for p in s.params])
            found: list[list[tuple[Any, ...]] | None] = []
            for k, statement in enumerate(statements):
                if k:
                    cursor.nextset()
                found.append(cursor.fetchall() if statement.rows else None)
            return found
        found = []
        for statement in statements:
            cursor.execute(statement.sql, list(statement.params))
            found.append(cursor.fetchall() if statement.rows else None)
        return found


def together(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``connection`` sends several statements in one round trip (``run_together``)."""
    if connection.vendor != "postgresql":
        return False
    from psycopg import ClientCursor  # only ever imported with PostgreSQL configured

    connection.ensure_connection()
    return issubclass(connection.connection.cursor_factory, ClientCursor)
