"""API routes whose views are named by dotted path and imported on their first request.

DRF and drf-spectacular cost a web node ~10 MB from its start (docs/performance.md, "Idle
memory"), and most nodes of a realtime fleet serve sockets, not the REST API. ``api_path`` builds
an ordinary ``URLPattern``: resolving, ``reverse()`` (names and dotted paths) and the URL checks
work without importing the view; the first request (or the schema generator's first look at its
attributes) imports it. tests/test_web_node_imports.py pins that the URLconf stays light.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from django.urls import URLPattern
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.functional import cached_property


class LazyView:
    """A view callable standing in for ``module.Name`` (a class-based view's ``as_view(**initkwargs)``
    or a view function) until it is first called or asked for an attribute (``cls``, ``csrf_exempt``…)."""

    __slots__ = ("dotted", "initkwargs", "_view")

    def __init__(self, dotted: str, initkwargs: dict[str, Any]) -> None:
        self.dotted = dotted
        self.initkwargs = initkwargs
        self._view: Any = None

    @property
    def view(self) -> Any:
        if self._view is None:
            module, _, name = self.dotted.rpartition(".")
            target = getattr(import_module(module), name)
            self._view = target.as_view(**self.initkwargs) if hasattr(target, "as_view") else target
        return self._view

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.view(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (``__wrapped__``…) must not import the view
            raise AttributeError(name)
        return getattr(self.view, name)

    def __repr__(self) -> str:
        return f"<LazyView {self.dotted}>"


class LazyURLPattern(URLPattern):
    @cached_property
    def lookup_str(self) -> str:
        """What ``reverse("module.View")`` matches, without importing the view (``URLPattern``'s
        own reads the view's class)."""
        view = self.callback
        assert isinstance(view, LazyView)
        return view.dotted


def api_path(route: str, dotted: str, *, name: str | None = None, regex: bool = False,
             **initkwargs: Any) -> URLPattern:
    """``path(route, View.as_view(**initkwargs), name=name)`` (``re_path`` with ``regex=True``) with
    ``View`` given as ``"module.View"`` and imported on first use."""
    pattern = RegexPattern(route, name=name, is_endpoint=True) if regex else \
        RoutePattern(route, name=name, is_endpoint=True)
    return LazyURLPattern(pattern, LazyView(dotted, initkwargs), name=name)
