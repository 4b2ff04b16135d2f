"""The API's views are imported on first use (support/api/lazy_views.py): every route still reaches
its view, reverses by name, and appears in the schema."""
from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from support.api.lazy_views import LazyURLPattern, LazyView


def lazy_patterns() -> list[tuple[str, LazyURLPattern]]:
    found = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, LazyURLPattern):
                found.append((prefix + str(pattern.pattern), pattern))

    walk(get_resolver().url_patterns, "/")
    return found


def test_every_lazy_route_resolves_to_the_view_it_names():
    routes = lazy_patterns()
    assert len(routes) > 30
    for route, pattern in routes:
        view = pattern.callback
        assert isinstance(view, LazyView)
        real = view.view  # imports it
        assert callable(real) and real is view.view
        # The dotted path the resolver knows the view by (``_is_callback``) is the one Django
        # gives the real view.
        assert pattern.lookup_str == URLPattern(pattern.pattern, real).lookup_str, route
        assert get_resolver()._is_callback(pattern.lookup_str)
        if pattern.name:
            kwargs = dict.fromkeys(pattern.pattern.converters, "x")
            assert reverse(pattern.name, kwargs=kwargs) == re.sub(r"<str:\w+>", "x", route)


def test_api_views_keep_their_attributes(client):
    me = get_resolver().resolve("/api/v1/me").func
    assert isinstance(me, LazyView)
    assert me.csrf_exempt is True  # DRF's as_view(): the API authenticates by token, not CSRF
    assert me.cls.__name__ == "MeView"
    assert client.get("/api/v1/me").status_code == 401  # answered by the real view
    assert client.get("/api/v1/no-such-thing").json()["error"]["code"] == "not_found"


def test_the_schema_lists_every_v1_route(client):
    paths = set(client.get("/api/schema/", {"format": "json"}).json()["paths"])
    routes = {re.sub(r"<str:(\w+)>", r"{\1}", route) for route, _ in lazy_patterns()
              if route.startswith("/api/v1/") and "^" not in route}
    assert routes and routes <= paths, routes - paths
