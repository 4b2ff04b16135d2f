"""The committed migrations match the models (tests run with --nomigrations for speed)."""
from io import StringIO

from django.core.management import call_command


def test_no_missing_migrations(db):
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exc:  # makemigrations --check exits 1 when something is missing
        raise AssertionError(f"Models changed without a migration:\n{out.getvalue()}") from exc
