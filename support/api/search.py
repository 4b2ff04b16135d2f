"""Full-text search of message text, narrowing a conversation queryset.

On PostgreSQL it matches ``to_tsvector(<config>, body)`` against ``websearch_to_tsquery`` — the
expression a GIN index on messages can serve (see docs/performance.md, "API"). SQLite has no
full-text operator in Django, so there it falls back to a case-insensitive substring match.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from support.models import Message, Tenant


def matching_messages(*, tenant: Tenant, q: str) -> QuerySet[Message]:
    messages = Message.objects.with_scope(tenant=tenant).exclude(kind=Message.Kind.EVENT)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        config = settings.API_SEARCH_CONFIG
        return messages.annotate(search=SearchVector("body", config=config)).filter(
            search=SearchQuery(q, config=config, search_type="websearch")
        )
    return messages.filter(body__icontains=q)


def filter_conversations_by_text(queryset: QuerySet[Any], *, tenant: Tenant, q: str) -> QuerySet[Any]:
    # A semi-join on the matching messages' conversation ids: the index finds the messages once,
    # instead of probing every conversation of the page.
    return queryset.filter(pk__in=matching_messages(tenant=tenant, q=q).values("conversation_id"))
