"""A scratch database's schema built from the current models, as pytest's ``--nomigrations`` does.

``settings.MIGRATION_MODULES = NoMigrations()`` (before ``migrate --run-syncdb``) makes every app
look unmigrated, so a bench run or the browser tests' live server never depends on committed
migrations being up to date.
"""
from __future__ import annotations


class NoMigrations(dict):
    """Every app is present and has no migrations module: ``migrate`` syncs the tables from the models."""

    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None
