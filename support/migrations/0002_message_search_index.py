"""Full-text search index on message bodies, PostgreSQL only (SQLite searches with LIKE).

The expression must match ``support/api/search.py`` exactly (``to_tsvector(config, body)``) for the
planner to use it; the config comes from ``API_SEARCH_CONFIG`` at migration time.
"""
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

INDEX_NAME = "message_body_fts"


def _index() -> GinIndex:
    return GinIndex(SearchVector("body", config=settings.API_SEARCH_CONFIG), name=INDEX_NAME)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("support", "Message"), _index())


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("support", "Message"), _index())


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
