"""Settings for the browser tests' live server: the embedded default, with the schema built from
the models (like the test suite's ``--nomigrations``) so it never waits for regenerated migrations."""
from config.settings import *  # noqa: F403


class _NoMigrations(dict):
    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None


MIGRATION_MODULES = _NoMigrations()
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
