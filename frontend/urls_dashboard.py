"""The agent dashboard (/app/): the service worker, the PWA manifest, and the SPA shell for every route."""
from django.urls import path, re_path

from frontend import views_dashboard as views

urlpatterns = [
    path("sw.js", views.service_worker, name="dashboard-sw"),
    path("manifest.webmanifest", views.web_manifest, name="dashboard-manifest"),
    path("", views.shell, name="dashboard"),
    # Client-side routes (/app/c/<id>, /app/stats, /app/settings/<section>) all get the same shell.
    re_path(r"^(?P<path>(?:c/[A-Za-z0-9_-]{1,64}|stats|setup|settings(?:/[a-z-]{1,20})?))/?$", views.shell,
            name="dashboard-route"),
]
