"""HTTP routes. Each app owns its own urls module; this file only mounts them."""
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from config.observability import health, metrics
from support import views_pages


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on pages without an icon link (admin, sign-in): our icon, not a 404."""
    return HttpResponseRedirect(static("frontend/icons/favicon-32.png"))


handler403 = views_pages.forbidden
handler404 = views_pages.not_found
handler500 = views_pages.server_error

urlpatterns = [
    path("", views_pages.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("accounts/", include("support.urls_accounts")),
    # The webhooks feature's REST endpoints, before the API's catch-all 404 (support/api/urls.py).
    path("api/v1/", include("push.webhooks.api_urls")),
    path("api/", include("support.api.urls")),
    path("rt/", include("push.urls")),
    path("notifications/", include("push.urls_notifications")),
    path("inbound/", include("push.urls_inbound")),
    path("billing/", include("billing.urls")),
    path("", include("frontend.urls")),
]
