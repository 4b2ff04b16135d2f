"""A bench's scratch database: created afresh beside the one ``DATABASE_URL`` names and dropped after
(``create_scratch_database``, ``drop_scratch_database``), its schema built from the current models,
as pytest's ``--nomigrations`` does.

``settings.MIGRATION_MODULES = NoMigrations()`` (before ``migrate --run-syncdb``) makes every app
look unmigrated, so a bench run or the browser tests' live server never depends on committed
migrations being up to date.
"""
from __future__ import annotations

from urllib.parse import urlparse


def _server_url(db_url: str) -> str:
    return urlparse(db_url)._replace(path="/postgres").geturl()


def drop_scratch_database(db_url: str, name: str) -> None:
    """Drop database ``name`` (if it exists) on the PostgreSQL server of ``db_url``, its sessions ended."""
    import psycopg

    with psycopg.connect(_server_url(db_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def create_scratch_database(db_url: str, name: str) -> str:
    """A fresh, empty database ``name`` on the PostgreSQL server of ``db_url`` (an old one is dropped);
    its URL."""
    import psycopg

    drop_scratch_database(db_url, name)
    with psycopg.connect(_server_url(db_url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlparse(db_url)._replace(path=f"/{name}").geturl()


class NoMigrations(dict):
    """Every app is present and has no migrations module: ``migrate`` syncs the tables from the models."""

    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None
