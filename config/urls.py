"""HTTP routes. Each app owns its own urls module; this file only mounts them."""
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("support.urls_accounts")),
    path("api/", include("support.api.urls")),
    path("rt/", include("push.urls")),
    path("notifications/", include("push.urls_notifications")),
    path("billing/", include("billing.urls")),
    path("", include("frontend.urls")),
]
